/**
 * A stand-in Hugging Face Hub on 127.0.0.1 for tests: serves, from in-memory repos built from local folders, what
 * @huggingface/hub and Python's huggingface_hub request —
 *   GET /api/{models|datasets}/<id>/revision/<rev>        repo info (sha, siblings)
 *   GET /api/{models|datasets}/<id>/tree/<rev>[/<path>]   file listing (oid, size, lfs {oid, size})
 *   GET|HEAD /[datasets/]<id>/resolve/<rev>/<path>        file (ETag, X-Repo-Commit; LFS files answer 302 to /cdn/<sha256>
 *                                                        with X-Linked-Etag / X-Linked-Size, as the Hub does)
 *   GET /cdn/<sha256>                                     LFS contents, on another host (127.0.0.2) as the Hub's CDN
 *                                                        is: huggingface_hub follows same-host redirects only
 * (Range requests are supported everywhere)
 * with the Hub's error codes: 401/403 (private, gated), 404 RepoNotFound / RevisionNotFound / EntryNotFound.
 * Revisions may contain "/" (refs/convert/parquet), URL-encoded or not.
 */
import * as crypto from "crypto";
import * as fs from "fs";
import * as http from "http";
import * as path from "path";
import type { AddressInfo } from "net";

export type RepoKind = "model" | "dataset";

interface StoredFile {
  content: Buffer;
  lfs: boolean;
  oid: string; // git blob sha1, or sha256 for LFS (what the tree listing gives as lfs.oid)
  gitOid: string;
}

interface Repo {
  type: RepoKind;
  id: string;
  refs: Map<string, string>; // branch/tag -> commit sha
  commits: Map<string, Map<string, StoredFile>>;
  /** When set, requests need "Authorization: Bearer <token>"; gated repos answer 403 GatedRepo to other tokens. */
  token?: string;
  gated?: boolean;
}

export interface RepoSpec {
  type?: RepoKind;
  id: string;
  /** Local folder whose files (recursively) make the repo. */
  dir?: string;
  /** Extra files (path -> contents). */
  files?: Record<string, string | Buffer>;
  branch?: string;
  token?: string;
  gated?: boolean;
}

const LFS = /\.(safetensors|parquet|bin|arrow)$/;

function gitBlobOid(content: Buffer): string {
  return crypto.createHash("sha1").update(`blob ${content.length}\0`).update(content).digest("hex");
}

function readFolder(dir: string, rel = ""): Record<string, Buffer> {
  const out: Record<string, Buffer> = {};
  for (const entry of fs.readdirSync(path.join(dir, rel), { withFileTypes: true })) {
    const relPath = rel ? `${rel}/${entry.name}` : entry.name;
    if (entry.isDirectory()) Object.assign(out, readFolder(dir, relPath));
    else out[relPath] = fs.readFileSync(path.join(dir, relPath));
  }
  return out;
}

export class HubServer {
  readonly repos = new Map<string, Repo>();
  /** Every request seen: method, url, whether it carried an Authorization header. */
  readonly requests: { method: string; url: string; authorized: boolean }[] = [];
  /** Contents (by LFS sha256 or git oid) whose next full download is cut after half the bytes, connection dropped. */
  readonly cutNext = new Set<string>();
  private server: http.Server;
  private cdn: http.Server;
  url = "";
  cdnUrl = "";

  private constructor() {
    this.server = http.createServer((req, res) => this.handle(req, res));
    this.cdn = http.createServer((req, res) => this.handle(req, res));
  }

  static async start(): Promise<HubServer> {
    const hub = new HubServer();
    await new Promise<void>((resolve) => hub.server.listen(0, "127.0.0.1", resolve));
    hub.url = `http://127.0.0.1:${(hub.server.address() as AddressInfo).port}`;
    await new Promise<void>((resolve, reject) => hub.cdn.once("error", reject).listen(0, "127.0.0.2", resolve));
    hub.cdnUrl = `http://127.0.0.2:${(hub.cdn.address() as AddressInfo).port}`;
    return hub;
  }

  async close(): Promise<void> {
    for (const server of [this.server, this.cdn]) {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    }
  }

  /** Adds (or adds a branch/commit to) a repo; returns the new commit's sha. */
  addRepo(spec: RepoSpec): string {
    const type = spec.type ?? "model";
    const key = `${type}:${spec.id}`;
    const repo = this.repos.get(key) ?? { type, id: spec.id, refs: new Map(), commits: new Map(), token: spec.token, gated: spec.gated };
    this.repos.set(key, repo);
    const raw: Record<string, Buffer> = { ...(spec.dir ? readFolder(spec.dir) : {}) };
    for (const [p, c] of Object.entries(spec.files ?? {})) raw[p] = Buffer.isBuffer(c) ? c : Buffer.from(c);
    const files = new Map<string, StoredFile>();
    const commitHash = crypto.createHash("sha1").update(`${spec.id}\0${spec.branch ?? "main"}\0${repo.commits.size}`);
    for (const p of Object.keys(raw).sort()) {
      const content = raw[p];
      const lfs = LFS.test(p);
      const gitOid = gitBlobOid(content);
      const oid = lfs ? crypto.createHash("sha256").update(content).digest("hex") : gitOid;
      files.set(p, { content, lfs, oid, gitOid });
      commitHash.update(`${p}\0${oid}\0`);
    }
    const sha = commitHash.digest("hex");
    repo.commits.set(sha, files);
    repo.refs.set(spec.branch ?? "main", sha);
    return sha;
  }

  private handle(req: http.IncomingMessage, res: http.ServerResponse): void {
    const url = new URL(req.url ?? "/", this.url);
    const auth = req.headers.authorization;
    this.requests.push({ method: req.method ?? "GET", url: url.pathname + url.search, authorized: !!auth });
    const fail = (status: number, code: string | null, message: string): void => {
      res.writeHead(status, { "Content-Type": "application/json", ...(code ? { "X-Error-Code": code } : {}) });
      res.end(JSON.stringify({ error: message }));
    };
    const parts = url.pathname.split("/").filter(Boolean).map(decodeURIComponent);

    if (parts[0] === "cdn" && parts.length === 2) {
      for (const repo of this.repos.values()) {
        for (const files of repo.commits.values()) {
          for (const f of files.values()) if (f.lfs && f.oid === parts[1]) return this.sendContent(req, res, f.content, { ETag: `"${f.oid}"` }, f.oid);
        }
      }
      return fail(404, null, "no such object");
    }

    const api = parts[0] === "api";
    const rest = api ? parts.slice(1) : parts;
    const type: RepoKind = rest[0] === "datasets" ? "dataset" : "model";
    const afterType = rest[0] === "datasets" || rest[0] === "models" ? rest.slice(1) : rest;
    if (api && rest[0] !== "datasets" && rest[0] !== "models") return fail(404, null, "unknown API route");
    const verbAt = afterType.findIndex((p, i) => i >= 1 && i <= 2 && (api ? ["revision", "tree"] : ["resolve"]).includes(p));
    if (verbAt < 0) return fail(404, null, "unknown route");
    const id = afterType.slice(0, verbAt).join("/");
    const verb = afterType[verbAt];
    const tail = afterType.slice(verbAt + 1);

    const repo = this.repos.get(`${type}:${id}`);
    if (!repo) return fail(auth ? 404 : 401, "RepoNotFound", "Repository not found");
    if (repo.token !== undefined) {
      if (!auth) return fail(401, repo.gated ? "GatedRepo" : "RepoNotFound", "Access to this repo is restricted: you must be authenticated");
      if (auth !== `Bearer ${repo.token}`) {
        return repo.gated
          ? fail(403, "GatedRepo", "Access to this gated repo is restricted: your request to access it has not been granted")
          : fail(404, "RepoNotFound", "Repository not found");
      }
    }
    // The revision is the longest prefix of `tail` naming a ref or commit (refs/convert/parquet spans 3 parts).
    let revision: string | undefined;
    let commit: string | undefined;
    for (let n = Math.min(tail.length, 3); n >= 1 && !commit; n--) {
      const candidate = tail.slice(0, n).join("/");
      const sha = repo.refs.get(candidate) ?? (repo.commits.has(candidate) ? candidate : candidate === "HEAD" ? repo.refs.get("main") : undefined);
      if (sha) {
        revision = candidate;
        commit = sha;
      }
    }
    if (!commit || !revision) return fail(404, "RevisionNotFound", `Invalid rev id: ${tail[0] ?? ""}`);
    const files = repo.commits.get(commit)!;
    const filePath = tail.slice(revision.split("/").length).join("/");

    if (verb === "revision") {
      const body = {
        _id: crypto.createHash("md5").update(id).digest("hex").slice(0, 24),
        id,
        sha: commit,
        private: repo.token !== undefined,
        gated: repo.gated ? "manual" : false,
        downloads: 0,
        likes: 0,
        lastModified: "2026-01-01T00:00:00.000Z",
        tags: [],
        siblings: [...files.keys()].map((rfilename) => ({ rfilename })),
      };
      res.writeHead(200, { "Content-Type": "application/json" });
      return void res.end(JSON.stringify(body));
    }
    if (verb === "tree") {
      const recursive = url.searchParams.get("recursive") === "true";
      const prefix = filePath ? `${filePath}/` : "";
      const entries: unknown[] = [];
      const dirs = new Set<string>();
      for (const [p, f] of files) {
        if (!p.startsWith(prefix)) continue;
        const rel = p.slice(prefix.length);
        const segs = rel.split("/");
        for (let i = 1; i < segs.length; i++) if (recursive || i === 1) dirs.add(prefix + segs.slice(0, i).join("/"));
        if (!recursive && segs.length > 1) continue;
        entries.push({
          type: "file",
          oid: f.gitOid,
          size: f.lfs ? 134 : f.content.length,
          path: p,
          ...(f.lfs ? { lfs: { oid: f.oid, size: f.content.length, pointerSize: 134 } } : {}),
        });
      }
      for (const d of [...dirs].sort()) entries.unshift({ type: "directory", oid: crypto.createHash("sha1").update(d).digest("hex"), size: 0, path: d });
      res.writeHead(200, { "Content-Type": "application/json" });
      return void res.end(JSON.stringify(entries));
    }
    // resolve
    const file = files.get(filePath);
    if (!file) return fail(404, "EntryNotFound", `Entry not found: ${filePath}`);
    const common = { "X-Repo-Commit": commit, "Accept-Ranges": "bytes" };
    if (file.lfs) {
      res.writeHead(302, {
        ...common,
        Location: `${this.cdnUrl}/cdn/${file.oid}`,
        "X-Linked-Etag": `"${file.oid}"`,
        "X-Linked-Size": String(file.content.length),
        ETag: `"${file.gitOid}"`,
        "Content-Length": "0",
      });
      return void res.end();
    }
    return this.sendContent(req, res, file.content, { ...common, ETag: `"${file.oid}"` }, file.oid);
  }

  /** 200, or 206 for a "Range: bytes=a-b" request; HEAD sends headers only. */
  private sendContent(req: http.IncomingMessage, res: http.ServerResponse, content: Buffer, headers: Record<string, string>, oid: string): void {
    const range = /^bytes=(\d+)-(\d*)$/.exec(req.headers.range ?? "");
    let body = content;
    if (range) {
      const start = Number(range[1]);
      const end = range[2] ? Math.min(Number(range[2]), content.length - 1) : content.length - 1;
      if (start >= content.length && content.length > 0) {
        res.writeHead(416, { "Content-Range": `bytes */${content.length}` });
        return void res.end();
      }
      body = content.subarray(start, end + 1);
      res.writeHead(206, {
        ...headers,
        "Content-Type": "application/octet-stream",
        "Content-Length": String(body.length),
        "Content-Range": `bytes ${start}-${end}/${content.length}`,
      });
    } else {
      res.writeHead(200, { ...headers, "Content-Type": "application/octet-stream", "Content-Length": String(body.length) });
      if (req.method !== "HEAD" && this.cutNext.delete(oid)) {
        res.write(body.subarray(0, body.length >> 1));
        return void setTimeout(() => res.destroy(), 20);
      }
    }
    res.end(req.method === "HEAD" ? undefined : body);
  }
}
