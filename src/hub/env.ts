/**
 * Where the Hugging Face Hub is and whether to reach it, read from the environment exactly as Python's
 * huggingface_hub reads it (constants.py): HF_ENDPOINT, HF_HOME / HF_HUB_CACHE / XDG_CACHE_HOME, HF_HUB_OFFLINE.
 * Sharing these rules is what lets dpo-ts and Python share one cache.
 */
import * as os from "os";
import * as path from "path";

/** huggingface_hub's ENV_VARS_TRUE_VALUES: "1", "ON", "YES", "TRUE" (any case). */
export function envIsTrue(value: string | undefined): boolean {
  return value !== undefined && ["1", "ON", "YES", "TRUE"].includes(value.toUpperCase());
}

/** The Hub's base URL: an explicit option, else HF_ENDPOINT (mirrors, test servers), else https://huggingface.co. */
export function hubEndpoint(hubUrl?: string): string {
  return (hubUrl ?? process.env.HF_ENDPOINT ?? "https://huggingface.co").replace(/\/+$/, "");
}

/** HF_HOME, else $XDG_CACHE_HOME/huggingface, else ~/.cache/huggingface. */
export function hfHome(): string {
  const xdg = process.env.XDG_CACHE_HOME ?? path.join(os.homedir(), ".cache");
  return expandHome(process.env.HF_HOME ?? path.join(xdg, "huggingface"));
}

/** The hub cache: an explicit option, else HF_HUB_CACHE, else HUGGINGFACE_HUB_CACHE (legacy), else HF_HOME/hub. */
export function hubCacheDir(cacheDir?: string): string {
  return expandHome(cacheDir ?? process.env.HF_HUB_CACHE ?? process.env.HUGGINGFACE_HUB_CACHE ?? path.join(hfHome(), "hub"));
}

/** HF_HUB_OFFLINE=1 (or TRANSFORMERS_OFFLINE=1): never touch the network, serve everything from the cache. */
export function hubOffline(): boolean {
  return envIsTrue(process.env.HF_HUB_OFFLINE || process.env.TRANSFORMERS_OFFLINE);
}

function expandHome(p: string): string {
  return p === "~" || p.startsWith("~/") ? path.join(os.homedir(), p.slice(1)) : p;
}
