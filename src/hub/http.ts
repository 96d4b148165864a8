/**
 * The fetch that every @huggingface/hub call here goes through: it adds the token as an Authorization header (the
 * only place the token travels), bounds the wait for response headers (so an unreachable Hub fails fast), and turns
 * HTTP failures into {@link HubError}s worded for the request (repo, revision, file) — never echoing the token.
 */
import { httpError, HubError, RequestContext } from "./errors";

/** The network could not be reached at all (DNS, refused connection, timeout): callers fall back to the cache. */
export class HubNetworkError extends Error {
  constructor(
    readonly url: string,
    readonly reason: string,
  ) {
    super(`cannot reach ${url} (${reason})`);
    this.name = "HubNetworkError";
  }
}

/** Options of one Hub request: token, endpoint (the only origin the token goes to), timeout. */
export interface HubFetchOptions {
  token?: string;
  /** The Hub's origin: the token goes to it only (not to CDNs or Xet storage, which have their own credentials). */
  endpoint: string;
  /** Milliseconds to wait for response headers (default 10000, huggingface_hub's HF_HUB_ETAG_TIMEOUT). */
  timeoutMs?: number;
}

/** A fetch for one request context; the last error it threw is kept for streams that only report a message. */
export function hubFetch(opts: HubFetchOptions, ctx: RequestContext): typeof fetch & { lastError?: Error } {
  const timeoutMs = opts.timeoutMs ?? 10_000;
  const state: { lastError?: Error } = {};
  const wrapped = async (input: string | URL | Request, init?: RequestInit): Promise<Response> => {
    const url = typeof input === "string" ? input : input instanceof URL ? input.href : input.url;
    const headers = new Headers(init?.headers);
    if (opts.token && !headers.has("Authorization") && new URL(url).origin === new URL(opts.endpoint).origin) {
      headers.set("Authorization", `Bearer ${opts.token}`);
    }
    headers.set("User-Agent", "dpo-ts (@huggingface/hub)");
    const controller = new AbortController();
    const timer = setTimeout(() => controller.abort(), timeoutMs);
    let res: Response;
    try {
      res = await fetch(url, { ...init, headers, signal: controller.signal });
    } catch (err) {
      const cause = (err as { cause?: { code?: string; message?: string } }).cause;
      const reason = controller.signal.aborted ? `no answer within ${timeoutMs} ms` : (cause?.code ?? cause?.message ?? (err as Error).message);
      throw (state.lastError = new HubNetworkError(url, reason));
    } finally {
      clearTimeout(timer); // the body may take as long as it takes
    }
    if (res.ok) return res;
    const code = res.headers.get("X-Error-Code");
    // @huggingface/hub reads a missing file as `null`: let that one through.
    if (res.status === 404 && code === "EntryNotFound") return res;
    await res.body?.cancel();
    throw (state.lastError = httpError(res.status, code, ctx, url));
  };
  return Object.assign(wrapped as typeof fetch, {
    get lastError() {
      return state.lastError;
    },
  });
}

/** Whether `err` is a {@link HubError}. */
export function isHubError(err: unknown): err is HubError {
  return err instanceof HubError;
}
