/**
 * The Hugging Face cache layout, byte for byte as Python's huggingface_hub writes it, so either side reads what the
 * other downloaded:
 *
 *   <cache>/models--org--name/blobs/<etag>                    file contents (etag = git sha1, or sha256 for LFS)
 *   <cache>/models--org--name/snapshots/<commit>/<path>       relative symlink -> ../../blobs/<etag>
 *   <cache>/models--org--name/refs/<revision>                 the commit sha the revision pointed to
 *
 * Every write is temp file + rename, so an interrupted download never leaves a complete-looking file.
 */
import * as crypto from "crypto";
import * as fs from "fs";
import * as path from "path";
import { repoFolderName, RepoType } from "./repo-id";

const COMMIT_SHA = /^[0-9a-f]{40}$/;

/** Text of huggingface_hub's CACHEDIR.TAG (backup tools skip folders holding it). */
const CACHEDIR_TAG =
  "Signature: 8a477f597d28d172789f06886806bc55\n" +
  "# This file is a cache directory tag created by huggingface_hub.\n" +
  "# For information about cache directory tags, see:\n" +
  "#\thttps://bford.info/cachedir/\n";

/** Whether a revision is a full 40-hex commit hash (so it names a snapshot without asking the Hub). */
export function isCommitSha(revision: string): boolean {
  return COMMIT_SHA.test(revision);
}

/** One repo's folder in the cache. */
export class RepoCache {
  /** The repo's folder in the cache (models--ORG--NAME, datasets--…). */
  readonly storage: string;

  constructor(
    readonly cacheDir: string,
    readonly repoId: string,
    readonly type: RepoType,
  ) {
    this.storage = path.join(cacheDir, repoFolderName(repoId, type));
  }

  /** The folder of the snapshot at `commit`. */
  snapshotDir(commit: string): string {
    return path.join(this.storage, "snapshots", commit);
  }

  /** The path of the blob with this etag. */
  blobPath(etag: string): string {
    return path.join(this.storage, "blobs", etag);
  }

  /** The commit a revision resolves to from the cache alone: itself when it is a sha, else refs/<revision>. */
  resolveRevision(revision: string): string | null {
    if (isCommitSha(revision)) return revision;
    try {
      const sha = fs.readFileSync(path.join(this.storage, "refs", revision), "utf8").trim();
      return isCommitSha(sha) ? sha : null;
    } catch {
      return null;
    }
  }

  /** Records refs/<revision> = commit (skipped when the revision is the commit itself, as huggingface_hub does). */
  writeRef(revision: string, commit: string): void {
    if (revision === commit) return;
    const ref = path.join(this.storage, "refs", revision);
    if (fs.existsSync(ref) && fs.readFileSync(ref, "utf8") === commit) return;
    atomicWrite(ref, commit);
  }

  /** True when snapshots/<commit>/<file> resolves to a readable file. */
  hasFile(commit: string, file: string): boolean {
    try {
      return fs.statSync(path.join(this.snapshotDir(commit), file)).isFile();
    } catch {
      return false;
    }
  }

  /** Points snapshots/<commit>/<file> at blobs/<etag> with a relative symlink (made beside, then renamed over). */
  linkSnapshotFile(commit: string, file: string, etag: string): string {
    const pointer = path.join(this.snapshotDir(commit), file);
    fs.mkdirSync(path.dirname(pointer), { recursive: true });
    const target = path.relative(path.dirname(pointer), this.blobPath(etag));
    const tmp = `${pointer}.${crypto.randomBytes(4).toString("hex")}.tmp`;
    fs.symlinkSync(target, tmp);
    fs.renameSync(tmp, pointer);
    return pointer;
  }

  /** Every file path (relative, "/"-separated) in a cached snapshot. */
  listSnapshot(commit: string): string[] {
    const root = this.snapshotDir(commit);
    const out: string[] = [];
    const walk = (dir: string, rel: string): void => {
      for (const entry of fs.readdirSync(dir, { withFileTypes: true })) {
        const relPath = rel ? `${rel}/${entry.name}` : entry.name;
        const full = path.join(dir, entry.name);
        if (entry.isDirectory()) walk(full, relPath);
        else if (fs.existsSync(full)) out.push(relPath); // a dangling symlink is not a cached file
      }
    };
    if (fs.existsSync(root)) walk(root, "");
    return out.sort();
  }

  /** CACHEDIR.TAG at the cache root, as huggingface_hub writes it. */
  tagCacheDir(): void {
    const tag = path.join(this.cacheDir, "CACHEDIR.TAG");
    if (fs.existsSync(tag)) return;
    try {
      atomicWrite(tag, CACHEDIR_TAG);
    } catch {
      // a read-only cache is still usable
    }
  }
}

/** Writes `text` to `file` through a temp file in the same folder and a rename. */
export function atomicWrite(file: string, text: string): void {
  fs.mkdirSync(path.dirname(file), { recursive: true });
  const tmp = `${file}.${crypto.randomBytes(4).toString("hex")}.tmp`;
  fs.writeFileSync(tmp, text);
  fs.renameSync(tmp, file);
}
