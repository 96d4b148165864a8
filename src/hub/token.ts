/**
 * The Hub access token: an explicit option, else HF_TOKEN, else the token file huggingface_hub's `hf auth login`
 * writes (HF_TOKEN_PATH, else HF_HOME/token). The token is a secret: it only ever travels in an Authorization
 * header, and {@link redactToken} scrubs it from any text that could reach a terminal, a log or a run folder.
 */
import * as fs from "fs";
import * as path from "path";
import { hfHome } from "./env";

/** Finds the token; undefined when there is none (public repos need none). */
export function resolveToken(token?: string): string | undefined {
  const explicit = token?.trim();
  if (explicit) return explicit;
  const fromEnv = (process.env.HF_TOKEN ?? process.env.HUGGING_FACE_HUB_TOKEN)?.trim();
  if (fromEnv) return fromEnv;
  const file = process.env.HF_TOKEN_PATH ?? path.join(hfHome(), "token");
  try {
    const fromFile = fs.readFileSync(file, "utf8").trim();
    return fromFile || undefined;
  } catch {
    return undefined;
  }
}

/** Replaces every occurrence of the token in `text` with "hf_***". */
export function redactToken(text: string, token: string | undefined): string {
  return token ? text.split(token).join("hf_***") : text;
}
