/**
 * Hub failures as errors a user can act on: what went wrong (unauthorized, gated, missing repo/revision/file,
 * offline), for which repo and file, and what to do. Messages never hold the token.
 */
import type { RepoType } from "./repo-id";

/** What went wrong talking to the Hub, as a code a caller can branch on. */
export type HubErrorKind =
  | "unauthorized" // 401: private or gated repo, no or bad token
  | "forbidden" // 403: token lacks access (gated repo not accepted, or read scope missing)
  | "repo-not-found"
  | "revision-not-found"
  | "file-not-found"
  | "offline" // the network is unreachable and the cache lacks a file
  | "offline-mode" // HF_HUB_OFFLINE=1 and the cache lacks a file
  | "no-safetensors"
  | "unknown-split"
  | "no-data-files"
  | "http";

/** An error from the Hub client, with a {@link HubErrorKind} and a message saying what to do. */
export class HubError extends Error {
  constructor(
    readonly kind: HubErrorKind,
    message: string,
    readonly status?: number,
  ) {
    super(message);
    this.name = "HubError";
  }
}

const TOKEN_HELP = "pass a token: set HF_TOKEN (or run `hf auth login`, which writes HF_HOME/token), or the `token` option";

/** What a request was for, to word an error. */
export interface RequestContext {
  repoId: string;
  type: RepoType;
  revision: string;
  file?: string;
}

/** Turns an HTTP status (and the Hub's X-Error-Code header) into a HubError. */
export function httpError(status: number, errorCode: string | null, ctx: RequestContext, url: string): HubError {
  const repo = `${ctx.type} repo "${ctx.repoId}"`;
  const where = ctx.file ? ` (file ${ctx.file})` : "";
  if (status === 401) {
    return new HubError(
      "unauthorized",
      `${repo}: unauthorized (HTTP 401)${where}: the repo is private or gated (or does not exist), and no valid token was sent; ${TOKEN_HELP}`,
      status,
    );
  }
  if (status === 403) {
    const gated = errorCode === "GatedRepo" ? "it is gated: accept its conditions on the Hub page, then " : "";
    return new HubError("forbidden", `${repo}: access denied (HTTP 403)${where}: ${gated}use a token with read access to it; ${TOKEN_HELP}`, status);
  }
  if (status === 404) {
    if (errorCode === "RevisionNotFound") {
      return new HubError("revision-not-found", `${repo}: revision "${ctx.revision}" not found (HTTP 404): check the branch, tag or commit sha`, status);
    }
    if (errorCode === "EntryNotFound") {
      return new HubError("file-not-found", `${repo}@${ctx.revision}: file ${ctx.file ?? url} not found (HTTP 404)`, status);
    }
    return new HubError(
      "repo-not-found",
      `${repo} not found (HTTP 404) at ${new URL(url).origin}: check the id; a private repo also answers 404 without a token (${TOKEN_HELP})`,
      status,
    );
  }
  return new HubError("http", `${repo}@${ctx.revision}${where}: the Hub answered HTTP ${status} for ${url}`, status);
}
