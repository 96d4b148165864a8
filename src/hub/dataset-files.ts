/**
 * A Hub data set id + split -> the local files of that split, by the Hub's conventions (as the `datasets` library
 * resolves them): the README's `configs:` data_files when present; else files pushed by push_to_hub
 * (data/<split>-00000-of-00001.parquet, <config>/<split>-*), else files or folders named after a split (train,
 * validation/valid/dev/val, test/eval, with "-._ 0-9" around the word), else every data file is "train". A repo with
 * only a loading script is read from its `refs/convert/parquet` branch (<config>/<split>/0000.parquet). Only the
 * chosen files are downloaded, into datasets--org--name in the Hugging Face cache; offline, the cached snapshot is
 * searched the same way.
 */
import * as fs from "fs";
import * as path from "path";
import { HubError } from "./errors";
import { DataConfig, readmeConfigs } from "./readme-configs";
import { HubNetworkError } from "./http";
import { cachedCommit, fetchIntoCache, guarded, HubOptions, HubSession, matchesAny, openSession, remoteCommit, remoteFiles, RepoFile } from "./snapshot";

/** Options of a Hub data set download: split, config, revision, plus the Hub options. */
export interface HubDatasetOptions extends HubOptions {
  /** Split to read (default "train"). */
  split?: string;
  /** Config (subset) name: a README `configs:` entry or a top-level folder; default: the default one. */
  config?: string;
}

/** The local files of one split of a Hub data set, and the revision and commit they came from. */
export interface HubDatasetFiles {
  repoId: string;
  /** The revision the files came from ("refs/convert/parquet" when the repo has only a script) and its commit. */
  revision: string;
  commit: string;
  config: string;
  split: string;
  /** Local paths (in the cache snapshot) of the split's files, sorted. */
  files: string[];
  /** Every split the config has. */
  splits: string[];
}

const FORMATS: Record<string, RegExp> = {
  parquet: /\.parquet$/i,
  json: /\.jsonl?(\.gz)?$/i,
  csv: /\.csv(\.gz)?$/i,
};
const FORMAT_ORDER = ["parquet", "json", "csv"];

const SPLIT_KEYWORDS: Record<string, string[]> = {
  train: ["train", "training"],
  validation: ["validation", "valid", "dev", "val"],
  test: ["test", "testing", "eval", "evaluation"],
};
const SEP = "[-._ 0-9]";

function formatOf(file: string): string | null {
  return FORMAT_ORDER.find((f) => FORMATS[f].test(file)) ?? null;
}

/** The standard split a path is named after (file name or folder), as datasets' DEFAULT_PATTERNS_SPLIT_IN_*. */
function splitByKeyword(file: string): string | null {
  const parts = file.split("/");
  const base = parts[parts.length - 1];
  const dirs = parts.slice(0, -1);
  for (const [split, words] of Object.entries(SPLIT_KEYWORDS)) {
    for (const w of words) {
      if (new RegExp(`^${w}${SEP}|${SEP}${w}${SEP}`).test(base)) return split;
      if (dirs.some((d) => new RegExp(`^${w}$|^${w}${SEP}|${SEP}${w}$|${SEP}${w}${SEP}`).test(d))) return split;
    }
  }
  return null;
}

/** split -> files, for the data files of one config folder (paths relative to it). */
function splitsByConvention(files: string[], onConvertBranch: boolean): Map<string, string[]> {
  const out = new Map<string, string[]>();
  const add = (split: string, f: string): void => void out.set(split, [...(out.get(split) ?? []), f]);
  const named = new Map<string, string | null>();
  for (const f of files) {
    const pushed = /^(?:data\/)?([^/]+?)-\d{5}-of-\d{5}[^/]*$/.exec(f); // push_to_hub shards: any split name
    const converted = onConvertBranch ? /^([^/]+)\/[^/]+$/.exec(f) : null; // <split>/0000.parquet
    named.set(f, converted?.[1] ?? pushed?.[1] ?? splitByKeyword(f));
  }
  const anyNamed = [...named.values()].some((s) => s !== null);
  for (const f of files) {
    const split = named.get(f) ?? null;
    if (split !== null) add(split, f);
    else if (!anyNamed) add("train", f); // no split names at all: everything is train
  }
  return out;
}

/** Picks the config and maps its splits to repo files. */
function selectSplits(
  s: HubSession,
  all: string[],
  readme: string | null,
  wanted: string | undefined,
  onConvertBranch: boolean,
): { config: string; splits: Map<string, string[]> } {
  const repo = `dataset repo "${s.repoId}"`;
  const configs: DataConfig[] | null = readme === null ? null : readmeConfigs(readme, `${repo} README.md`);
  const data = all.filter((f) => formatOf(f) !== null);
  if (configs && configs.length > 0) {
    const config = wanted
      ? configs.find((c) => c.name === wanted)
      : (configs.find((c) => c.isDefault) ?? configs.find((c) => c.name === "default") ?? (configs.length === 1 ? configs[0] : undefined));
    if (!config) {
      const names = configs.map((c) => c.name).join(", ");
      throw new HubError(
        "unknown-split",
        wanted ? `${repo}: config "${wanted}" not found; its README declares: ${names}` : `${repo} has several configs (${names}): pass \`config\``,
      );
    }
    const splits = new Map<string, string[]>();
    for (const [split, patterns] of config.splits)
      splits.set(
        split,
        data.filter((f) => matchesAny(f, patterns)),
      );
    return { config: config.name, splits };
  }
  // No README configs: a config is a top-level folder (the convert branch always has one per config).
  const folders = [...new Set(data.filter((f) => f.includes("/")).map((f) => f.split("/")[0]))];
  const configName = wanted ?? (onConvertBranch ? (folders.includes("default") ? "default" : folders[0]) : "default");
  let scoped = data;
  if (onConvertBranch || (wanted && wanted !== "default")) {
    if (!folders.includes(configName)) {
      throw new HubError("unknown-split", `${repo}: config "${configName}" not found; configs (top-level folders): ${folders.join(", ") || "none"}`);
    }
    scoped = data.filter((f) => f.startsWith(`${configName}/`));
  }
  const relative = onConvertBranch || (wanted && wanted !== "default") ? scoped.map((f) => f.slice(configName.length + 1)) : scoped;
  const bySplit = splitsByConvention(relative, onConvertBranch);
  const prefix = scoped === data ? "" : `${configName}/`;
  return { config: configName, splits: new Map([...bySplit].map(([k, v]) => [k, v.map((f) => prefix + f)])) };
}

/** Of a split's files, those of the format the config uses most (datasets infers one builder per config). */
function oneFormat(files: string[], allOfConfig: string[]): string[] {
  const count = (fmt: string): number => allOfConfig.filter((f) => formatOf(f) === fmt).length;
  const present = FORMAT_ORDER.filter((fmt) => files.some((f) => formatOf(f) === fmt));
  const best = present.sort((a, b) => count(b) - count(a) || FORMAT_ORDER.indexOf(a) - FORMAT_ORDER.indexOf(b))[0];
  return files.filter((f) => formatOf(f) === best).sort();
}

/**
 * Downloads (or finds in the cache) the files of one split of a Hub data set and returns their local paths.
 * Errors: unknown split (lists the splits there are), no data files, 401/403/404, offline with nothing cached.
 */
export async function resolveHubDataset(repoId: string, opts: HubDatasetOptions = {}): Promise<HubDatasetFiles> {
  const split = opts.split ?? "train";
  const first = openSession(repoId, "dataset", opts);
  return guarded(first, async () => {
    const pick = (s: HubSession, all: string[], readme: string | null) => {
      const onConvert = s.revision === "refs/convert/parquet";
      const { config, splits } = selectSplits(s, all, readme, opts.config, onConvert);
      const names = [...splits.keys()].filter((k) => (splits.get(k) ?? []).length > 0).sort();
      const files = splits.get(split) ?? [];
      if (files.length === 0) {
        throw new HubError("unknown-split", `dataset repo "${s.repoId}" (config "${config}"): no split "${split}"; splits: ${names.join(", ") || "none"}`);
      }
      return { config, files: oneFormat(files, [...splits.values()].flat()), splits: names };
    };
    const hasData = (files: string[]): boolean => files.some((f) => formatOf(f) !== null);
    const readmeOf = (s: HubSession, commit: string): string | null => {
      const file = path.join(s.cache.snapshotDir(commit), "README.md");
      return fs.existsSync(file) ? fs.readFileSync(file, "utf8") : null;
    };

    // What both paths return: the chosen split's files inside the snapshot of `commit`.
    const result = (s: HubSession, commit: string, chosen: ReturnType<typeof pick>): HubDatasetFiles => ({
      repoId,
      revision: s.revision,
      commit,
      config: chosen.config,
      split,
      splits: chosen.splits,
      files: chosen.files.map((f) => path.join(s.cache.snapshotDir(commit), f)),
    });

    const fromCache = (s: HubSession, why: "offline-mode" | "offline", reason?: string): HubDatasetFiles => {
      const commit = cachedCommit(s, why, reason);
      const cached = s.cache.listSnapshot(commit);
      const chosen = pick(s, cached, readmeOf(s, commit));
      return result(s, commit, chosen);
    };

    const online = async (s: HubSession): Promise<HubDatasetFiles | "no-data"> => {
      const commit = await remoteCommit(s);
      const listed: RepoFile[] = await remoteFiles(s, commit);
      const all = listed.map((f) => f.path);
      if (!hasData(all)) return "no-data";
      const readme = listed.filter((f) => f.path === "README.md");
      await fetchIntoCache(s, commit, readme);
      const chosen = pick(s, all, readmeOf(s, commit));
      await fetchIntoCache(
        s,
        commit,
        listed.filter((f) => chosen.files.includes(f.path)),
      );
      s.cache.writeRef(s.revision, commit);
      return result(s, commit, chosen);
    };

    const convert = openSession(repoId, "dataset", { ...opts, revision: "refs/convert/parquet" });
    if (first.offline) {
      try {
        return fromCache(first, "offline-mode");
      } catch (err) {
        // A script-only repo was read from its parquet conversion: that is what the cache holds.
        if (opts.revision === undefined && convert.cache.resolveRevision(convert.revision)) return fromCache(convert, "offline-mode");
        throw err;
      }
    }
    try {
      const result = await online(first);
      if (result !== "no-data") return result;
      if (opts.revision !== undefined) {
        throw new HubError(
          "no-data-files",
          `dataset repo "${repoId}"@${first.revision} has no Parquet, JSON, JSONL or CSV files (only a loading script?); try revision "refs/convert/parquet"`,
        );
      }
      const converted = await online(convert);
      if (converted === "no-data") {
        throw new HubError("no-data-files", `dataset repo "${repoId}" has no Parquet, JSON, JSONL or CSV files, nor a refs/convert/parquet branch with them`);
      }
      return converted;
    } catch (err) {
      if (!(err instanceof HubNetworkError)) throw err;
      try {
        return fromCache(first, "offline", err.reason);
      } catch (cacheErr) {
        if (opts.revision === undefined && convert.cache.resolveRevision(convert.revision)) return fromCache(convert, "offline", err.reason);
        throw cacheErr;
      }
    }
  });
}
