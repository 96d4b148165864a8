/**
 * snapshotDownload: a repo (model or data set) at a revision, or the files of it matching `allowPatterns`, into the
 * Hugging Face cache (see cache.ts), through @huggingface/hub (repo info for the commit sha, tree listing, file
 * download). Returns the local snapshot folder. Offline (HF_HUB_OFFLINE=1, or the Hub unreachable) it serves the
 * cached snapshot refs/<revision> points to, and says which file is missing when one is.
 */
import * as crypto from "crypto";
import * as fs from "fs";
import * as path from "path";
import { Readable, Transform } from "stream";
import { pipeline } from "stream/promises";
import type { ReadableStream as NodeReadableStream } from "stream/web";
import { datasetInfo, downloadFile, listFiles, modelInfo } from "@huggingface/hub";
import { RepoCache } from "./cache";
import { hubCacheDir, hubEndpoint, hubOffline } from "./env";
import { HubError, RequestContext } from "./errors";
import { hubFetch, HubNetworkError } from "./http";
import { progressReporter, ProgressOption } from "./progress";
import { checkRepoId, RepoType } from "./repo-id";
import { redactToken, resolveToken } from "./token";

/** Where and how to reach the Hub; shared by every Hub call of dpo-ts. */
export interface HubOptions {
  /** Branch, tag or commit sha (default "main"). */
  revision?: string;
  /** Hub cache folder (default HF_HUB_CACHE, else HF_HOME/hub, else ~/.cache/huggingface/hub). */
  cacheDir?: string;
  /** Access token for private or gated repos (default HF_TOKEN, else the token file). */
  token?: string;
  /** Hub endpoint (default HF_ENDPOINT, else https://huggingface.co). */
  hubUrl?: string;
  /** Never use the network (default: HF_HUB_OFFLINE). */
  offline?: boolean;
  /** Milliseconds to wait for the Hub to answer a request (default 10000). */
  timeoutMs?: number;
  /** Download progress: true = stderr when it is a terminal (default), false = none, or a hook. */
  progress?: ProgressOption;
}

/** Options of {@link snapshotDownload}: repo type, revision, allow patterns, plus the Hub options. */
export interface SnapshotOptions extends HubOptions {
  repoType?: RepoType;
  /** Glob patterns (fnmatch style, as huggingface_hub's allow_patterns: "*" also crosses "/"); default: all files. */
  allowPatterns?: string[];
}

/** A listed repo file. */
export interface RepoFile {
  path: string;
  size: number;
  /** The name its blob has in the cache: the LFS sha256 for LFS files, else the git blob sha1 (= the Hub's ETag). */
  etag: string;
}

/** A resolved snapshot: the folder, the commit it is, and the files of it that were selected. */
export interface Snapshot {
  dir: string;
  commit: string;
  files: string[];
  /** Every file of the repo at that commit (of the cached snapshot, when served from the cache). */
  allFiles: string[];
  /** true when served from the cache without asking the Hub. */
  fromCache: boolean;
}

/** fnmatch-style pattern to RegExp: "*" any run of characters (also "/"), "?" one, "[...]" a class. */
export function patternToRegExp(pattern: string): RegExp {
  const p = pattern.endsWith("/") ? pattern + "*" : pattern; // huggingface_hub: "folder/" means everything under it
  let re = "";
  for (let i = 0; i < p.length; i++) {
    const c = p[i];
    if (c === "*") re += ".*";
    else if (c === "?") re += ".";
    else if (c === "[") {
      const end = p.indexOf("]", i + 1);
      if (end < 0) re += "\\[";
      else {
        re +=
          "[" +
          p
            .slice(i + 1, end)
            .replace(/^!/, "^")
            .replace(/\\/g, "\\\\") +
          "]";
        i = end;
      }
    } else re += c.replace(/[.+^${}()|\\\]]/g, "\\$&");
  }
  return new RegExp(`^${re}$`);
}

/** Whether `file` matches one of the glob patterns (huggingface_hub's allow_patterns rules); true when there are none. */
export function matchesAny(file: string, patterns: string[] | undefined): boolean {
  return !patterns || patterns.some((p) => patternToRegExp(p).test(file));
}

/** The resolved settings of one call. */
export interface HubSession {
  repoId: string;
  type: RepoType;
  revision: string;
  endpoint: string;
  token?: string;
  cache: RepoCache;
  offline: boolean;
  timeoutMs?: number;
  progress?: ProgressOption;
}

/** A Hub session for one repo: endpoint, token, cache, offline mode; throws HubError on an invalid repo id. */
export function openSession(repoId: string, type: RepoType, opts: HubOptions): HubSession {
  checkRepoId(repoId, type);
  const cacheDir = hubCacheDir(opts.cacheDir);
  return {
    repoId,
    type,
    revision: opts.revision ?? "main",
    endpoint: hubEndpoint(opts.hubUrl),
    token: resolveToken(opts.token),
    cache: new RepoCache(cacheDir, repoId, type),
    offline: opts.offline ?? hubOffline(),
    timeoutMs: opts.timeoutMs,
    progress: opts.progress,
  };
}

function context(s: HubSession, file?: string): RequestContext {
  return { repoId: s.repoId, type: s.type, revision: s.revision, file };
}

/** Runs a Hub call; any error leaves with the token scrubbed from its message. */
export async function guarded<T>(s: HubSession, fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (err) {
    if (err instanceof Error) err.message = redactToken(err.message, s.token);
    throw err;
  }
}

/** The commit sha a revision points to now, asked of the Hub. */
export async function remoteCommit(s: HubSession): Promise<string> {
  const fetch = hubFetch({ token: s.token, endpoint: s.endpoint, timeoutMs: s.timeoutMs }, context(s));
  const params = { name: s.repoId, revision: s.revision, hubUrl: s.endpoint, fetch, additionalFields: ["sha"] as ["sha"] };
  const info = s.type === "model" ? await modelInfo(params) : await datasetInfo(params);
  if (typeof info.sha !== "string" || !/^[0-9a-f]{40}$/.test(info.sha)) {
    throw new HubError("http", `${s.type} repo "${s.repoId}"@${s.revision}: the Hub's answer has no commit sha`);
  }
  return info.sha;
}

/** Every file of the repo at a commit, with the blob name huggingface_hub gives it. */
export async function remoteFiles(s: HubSession, commit: string): Promise<RepoFile[]> {
  const fetch = hubFetch({ token: s.token, endpoint: s.endpoint, timeoutMs: s.timeoutMs }, context(s));
  const files: RepoFile[] = [];
  for await (const entry of listFiles({ repo: { type: s.type, name: s.repoId }, revision: commit, recursive: true, hubUrl: s.endpoint, fetch })) {
    if (entry.type !== "file") continue;
    const etag = entry.lfs?.oid ?? entry.oid;
    if (!etag) throw new HubError("http", `${s.type} repo "${s.repoId}": the Hub's listing gives no oid for ${entry.path}`);
    files.push({ path: entry.path, size: entry.lfs?.size ?? entry.size, etag });
  }
  return files;
}

/** Path components that would leave the snapshot folder are refused (huggingface_hub#4540). */
function checkRelative(file: string): void {
  if (path.isAbsolute(file) || file.split(/[\\/]/).some((part) => part === ".." || part === "")) {
    throw new HubError("http", `refusing to write ${JSON.stringify(file)} outside the snapshot folder`);
  }
}

/** Downloads the files not yet in the cache into blobs/ (temp + rename), and links them into snapshots/<commit>/. */
export async function fetchIntoCache(s: HubSession, commit: string, files: RepoFile[]): Promise<void> {
  const missing = files.filter((f) => !s.cache.hasFile(commit, f.path));
  if (missing.length === 0) return;
  s.cache.tagCacheDir();
  const reporter = progressReporter(s.progress);
  const totalBytes = missing.filter((f) => !fs.existsSync(s.cache.blobPath(f.etag))).reduce((n, f) => n + f.size, 0);
  let doneBytes = 0;
  let filesDone = 0;
  try {
    for (const file of missing) {
      checkRelative(file.path);
      try {
        const blob = s.cache.blobPath(file.etag);
        if (!fs.existsSync(blob)) {
          fs.mkdirSync(path.dirname(blob), { recursive: true });
          const fetch = hubFetch({ token: s.token, endpoint: s.endpoint, timeoutMs: s.timeoutMs }, context(s, file.path));
          const data = await downloadFile({ repo: { type: s.type, name: s.repoId }, path: file.path, revision: commit, hubUrl: s.endpoint, fetch });
          if (!data) throw new HubError("file-not-found", `${s.type} repo "${s.repoId}"@${s.revision}: file ${file.path} not found (HTTP 404)`, 404);
          const tmp = `${blob}.${crypto.randomBytes(4).toString("hex")}.incomplete`;
          let fileBytes = 0;
          // LFS blobs are named by their sha256: check it, so a corrupted transfer never becomes a blob.
          const sha256 = /^[0-9a-f]{64}$/.test(file.etag) ? crypto.createHash("sha256") : null;
          const counter = new Transform({
            transform(chunk: Buffer, _enc, done) {
              sha256?.update(chunk);
              fileBytes += chunk.length;
              doneBytes += chunk.length;
              reporter.update({
                repoId: s.repoId,
                file: file.path,
                fileBytes,
                fileSize: file.size,
                doneBytes,
                totalBytes,
                filesDone,
                filesTotal: missing.length,
              });
              done(null, chunk);
            },
          });
          try {
            await pipeline(Readable.fromWeb(data.stream() as unknown as NodeReadableStream), counter, fs.createWriteStream(tmp));
            if (fileBytes !== file.size) {
              throw new HubError("http", `${s.type} repo "${s.repoId}": ${file.path} arrived with ${fileBytes} bytes, the listing says ${file.size}`);
            }
            const got = sha256?.digest("hex");
            if (got !== undefined && got !== file.etag) {
              throw new HubError("http", `${s.type} repo "${s.repoId}": ${file.path} arrived with sha256 ${got}, the listing says ${file.etag}`);
            }
            fs.renameSync(tmp, blob);
          } catch (err) {
            fs.rmSync(tmp, { force: true });
            // @huggingface/hub reports a failed stream by message only: prefer the error our fetch threw.
            if (fetch.lastError) throw fetch.lastError;
            if (err instanceof HubError) throw err;
            const reason = err instanceof Error ? err.message : String(err);
            throw new HubError(
              "http",
              `${s.type} repo "${s.repoId}"@${s.revision}: download of ${file.path} interrupted (${reason}); nothing partial was kept, run again to retry`,
            );
          }
        }
      } catch (err) {
        if (err instanceof HubNetworkError) throw offlineError(s, "offline", `file ${file.path} (commit ${commit})`, err.reason);
        throw err;
      }
      s.cache.linkSnapshotFile(commit, file.path, file.etag);
      filesDone++;
    }
  } finally {
    reporter.finish();
  }
}

/** The commit a revision points to per the cache, or a clear error that the cache lacks it. */
export function cachedCommit(s: HubSession, why: "offline-mode" | "offline", reason?: string): string {
  const commit = s.cache.resolveRevision(s.revision);
  if (commit && fs.existsSync(s.cache.snapshotDir(commit))) return commit;
  throw offlineError(s, why, `revision "${s.revision}" (no refs/${s.revision} under ${s.cache.storage})`, reason);
}

/** The HubError to throw when a file is needed but the Hub cannot be asked (HF_HUB_OFFLINE, or the network is down) and the cache lacks it. */
export function offlineError(s: HubSession, why: "offline-mode" | "offline", what: string, reason?: string): HubError {
  const repo = `${s.type} repo "${s.repoId}"`;
  if (why === "offline-mode") {
    return new HubError(
      "offline-mode",
      `${repo}: HF_HUB_OFFLINE=1 and ${what} is not in the cache ${s.cache.cacheDir}; download it once online (or unset HF_HUB_OFFLINE)`,
    );
  }
  return new HubError(
    "offline",
    `${repo}: offline — the Hub at ${s.endpoint} cannot be reached (${reason}) and ${what} is not in the cache ${s.cache.cacheDir}`,
  );
}

/**
 * Downloads (or finds in the cache) the files of a repo at a revision and returns the snapshot. Files matching none
 * of `allowPatterns` are neither downloaded nor listed. Offline, the cached snapshot is returned as it is; `required`
 * names files whose absence is an error (the offline error names the first one missing).
 */
export async function snapshotDownload(repoId: string, opts: SnapshotOptions & { required?: string[] } = {}): Promise<Snapshot> {
  const s = openSession(repoId, opts.repoType ?? "model", opts);
  return guarded(s, async () => {
    const fromCache = (why: "offline-mode" | "offline", reason?: string): Snapshot => {
      const commit = cachedCommit(s, why, reason);
      const allFiles = s.cache.listSnapshot(commit);
      const files = allFiles.filter((f) => matchesAny(f, opts.allowPatterns));
      const lacking = (opts.required ?? []).find((f) => !files.includes(f));
      if (lacking) throw offlineError(s, why, `file ${lacking} of ${s.revision} (commit ${commit})`, reason);
      return { dir: s.cache.snapshotDir(commit), commit, files, allFiles, fromCache: true };
    };
    if (s.offline) return fromCache("offline-mode");
    let commit: string;
    let all: RepoFile[];
    try {
      commit = await remoteCommit(s);
      all = await remoteFiles(s, commit);
    } catch (err) {
      if (err instanceof HubNetworkError) return fromCache("offline", err.reason);
      throw err;
    }
    const listed = all.filter((f) => matchesAny(f.path, opts.allowPatterns));
    const lacking = (opts.required ?? []).find((f) => !listed.some((l) => l.path === f));
    if (lacking) {
      throw new HubError("file-not-found", `${s.type} repo "${s.repoId}"@${s.revision}: file ${lacking} not found in the repo`, 404);
    }
    await fetchIntoCache(s, commit, listed);
    s.cache.writeRef(s.revision, commit);
    return { dir: s.cache.snapshotDir(commit), commit, files: listed.map((f) => f.path).sort(), allFiles: all.map((f) => f.path).sort(), fromCache: false };
  });
}
