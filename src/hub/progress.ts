/**
 * Download progress: one line on stderr redrawn in place when stderr is a terminal (nothing when it is not, so
 * logs and CI output stay clean), or a callback for notebooks and other front ends.
 */

export interface DownloadProgress {
  repoId: string;
  file: string; // the file being downloaded
  fileBytes: number; // bytes of it received so far
  fileSize: number;
  doneBytes: number; // bytes received for all files of this download so far
  totalBytes: number; // bytes this download fetches in all (files already cached not counted)
  filesDone: number;
  filesTotal: number;
}

/** A download progress hook, called as bytes arrive. */
export type ProgressHook = (p: DownloadProgress) => void;

/** `progress` option: true = stderr when it is a TTY (default), false = silent, a function = your hook. */
export type ProgressOption = boolean | ProgressHook;

function formatBytes(n: number): string {
  if (n < 1024) return `${n} B`;
  const units = ["kB", "MB", "GB", "TB"];
  let v = n;
  let u = -1;
  do {
    v /= 1024;
    u++;
  } while (v >= 1024 && u < units.length - 1);
  return `${v.toFixed(1)} ${units[u]}`;
}

/** A progress line for a terminal, e.g. "org/name: 2/5 files, 12.0 MB / 270.0 MB (4%) model.safetensors". */
export function formatProgress(p: DownloadProgress): string {
  const pct = p.totalBytes > 0 ? Math.floor((100 * p.doneBytes) / p.totalBytes) : 100;
  return `${p.repoId}: ${p.filesDone}/${p.filesTotal} files, ${formatBytes(p.doneBytes)} / ${formatBytes(p.totalBytes)} (${pct}%) ${p.file}`;
}

/** The hook a `progress` option stands for, plus `finish` to end the terminal line; throttled to ~10 updates/s. */
export function progressReporter(option: ProgressOption | undefined): { update: ProgressHook; finish: () => void } {
  if (typeof option === "function") return { update: option, finish: () => {} };
  const stream = process.stderr;
  if (option === false || !stream.isTTY) return { update: () => {}, finish: () => {} };
  let last = 0;
  let drawn = false;
  return {
    update: (p) => {
      const now = Date.now();
      const complete = p.fileBytes === p.fileSize;
      if (!complete && now - last < 100) return;
      last = now;
      const width = Math.max(20, (stream.columns ?? 80) - 1);
      stream.write(`\r${formatProgress(p).slice(0, width).padEnd(width)}`);
      drawn = true;
    },
    finish: () => {
      if (drawn) stream.write("\n");
    },
  };
}
