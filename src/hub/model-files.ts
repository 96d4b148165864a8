/**
 * Which files of a model repo dpo-ts needs, and turning "a folder or a repo id" into a local folder: config.json,
 * generation_config.json, tokenizer files and chat template, and the safetensors weights (single file, or the
 * shards that model.safetensors.index.json names). pytorch_model.bin is never downloaded: it is not read.
 */
import * as fs from "fs";
import * as path from "path";
import { HubError } from "./errors";
import { looksLikeRepoId } from "./repo-id";
import { HubOptions, snapshotDownload } from "./snapshot";

/** Tokenizer files (and the chat template) transformers saves. */
export const TOKENIZER_FILES = ["tokenizer.json", "tokenizer_config.json", "special_tokens_map.json", "chat_template.jinja", "chat_template.json"];

/** Everything a causal LM folder needs besides its weights. */
export const MODEL_FILES = ["config.json", "generation_config.json", ...TOKENIZER_FILES];

const NO_SAFETENSORS_HELP =
  "dpo-ts reads safetensors only, not pytorch_model.bin; convert once with transformers " +
  "(AutoModelForCausalLM.from_pretrained(id).save_pretrained(dir, safe_serialization=True)) and pass the folder, or use a revision that has safetensors (many repos have a refs/pr/N conversion)";

/** Which files of a pretrained model folder are wanted: the model's or the tokenizer's. */
export type PretrainedPart = "model" | "tokenizer";

/** Does `idOrDir` name a local folder? A path that exists, or one written like a path ("./x", "/x", "~/x"). */
function isLocal(idOrDir: string): boolean {
  return fs.existsSync(idOrDir) || idOrDir.startsWith(".") || path.isAbsolute(idOrDir) || idOrDir.startsWith("~");
}

/**
 * A local folder for `idOrDir`: the folder itself when it exists, else the Hub repo's cached snapshot holding what
 * `part` needs (downloaded if missing). Sharded weights: the index is fetched first, then only the shards it names.
 */
export async function resolvePretrained(idOrDir: string, part: PretrainedPart, opts: HubOptions = {}): Promise<string> {
  try {
    return await resolveFolderOrRepo(idOrDir, part, opts);
  } catch (err) {
    // "org/name" may also have been meant as a folder: say that none exists, for a mistyped path.
    if (err instanceof HubError && ["repo-not-found", "unauthorized", "offline", "offline-mode"].includes(err.kind)) {
      err.message += ` (nor is there a local folder ${idOrDir})`;
    }
    throw err;
  }
}

async function resolveFolderOrRepo(idOrDir: string, part: PretrainedPart, opts: HubOptions): Promise<string> {
  if (isLocal(idOrDir) || !looksLikeRepoId(idOrDir)) {
    if (fs.existsSync(idOrDir)) return idOrDir;
    const notAnId = isLocal(idOrDir) ? "" : ' (nor a Hub repo id like "org/name")';
    throw new Error(`${idOrDir}: ${part} folder not found${notAnId}`);
  }
  if (part === "tokenizer") {
    return (await snapshotDownload(idOrDir, { ...opts, allowPatterns: TOKENIZER_FILES, required: ["tokenizer.json"] })).dir;
  }
  // Metadata and the index first: it decides which shards to fetch.
  const meta = await snapshotDownload(idOrDir, {
    ...opts,
    allowPatterns: [...MODEL_FILES, "model.safetensors.index.json"],
    required: ["config.json"],
    progress: false,
  });
  const names = new Set(meta.allFiles);
  let weights: string[];
  if (names.has("model.safetensors")) weights = ["model.safetensors"];
  else if (names.has("model.safetensors.index.json")) {
    const index = path.join(meta.dir, "model.safetensors.index.json");
    const weightMap = (JSON.parse(fs.readFileSync(index, "utf8")) as { weight_map?: Record<string, string> }).weight_map ?? {};
    weights = ["model.safetensors.index.json", ...new Set(Object.values(weightMap))];
  } else if (meta.fromCache) {
    throw new HubError(
      "offline",
      `model repo "${idOrDir}": model.safetensors (or model.safetensors.index.json) is not in the cached snapshot ${meta.dir}, and the Hub was not asked (offline)`,
    );
  } else {
    const bin = [...names].some((f) => f.startsWith("pytorch_model"));
    throw new HubError(
      "no-safetensors",
      `model repo "${idOrDir}"${bin ? " has only pytorch_model.bin weights" : " has no model.safetensors"}: ${NO_SAFETENSORS_HELP}`,
    );
  }
  return (await snapshotDownload(idOrDir, { ...opts, revision: meta.commit, allowPatterns: [...meta.files, ...weights], required: weights })).dir;
}
