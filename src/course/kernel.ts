/**
 * The Jupyter kernelspec for this project's tslab, written without Python (`dpo-ts kernel install`, notebook 01).
 *
 * tslab's own `tslab install` runs a Python script that writes
 *   { "argv": [TSLAB, "kernel", "--config-path", "{connection_file}"], "display_name": "TypeScript", "language": "typescript" }
 * through jupyter_client's KernelSpecManager. This writes the same shape directly, with argv pinned to absolute paths
 * (the current `node` and node_modules/tslab/bin/tslab) so the kernel starts even when Jupyter's PATH has no node,
 * plus Node options, under the directories jupyter_core searches.
 */
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { DPO_TS_KERNELSPEC } from "./notebook";

/** The kernel name the course notebooks name in metadata.kernelspec. */
export const DEFAULT_KERNEL_NAME = DPO_TS_KERNELSPEC.name;
/** The kernel's display name in Jupyter's launcher and kernel picker. */
export const KERNEL_DISPLAY_NAME = DPO_TS_KERNELSPEC.display_name;
/**
 * Node options notebooks run with, in the Jupyter kernel and in the headless runner's child process alike:
 * source-mapped stack traces into dpo-ts, and heap room for training.
 */
export const KERNEL_NODE_OPTIONS = ["--enable-source-maps", "--max-old-space-size=4096"];

/** A Jupyter kernel.json: how to start the kernel and how Jupyter shows it. */
export interface KernelSpec {
  argv: string[];
  display_name: string;
  language: string;
  interrupt_mode: "signal";
  metadata: Record<string, unknown>;
}

/** Where {@link installKernel} writes the kernelspec (user, prefix or system folder) and under which name. */
export interface InstallKernelOptions {
  /** Install into the per-user kernels folder. */
  user?: boolean;
  /** Install into PREFIX/share/jupyter/kernels/NAME (e.g. a virtualenv). */
  prefix?: string;
  /** Kernel name (folder name; notebooks refer to it in metadata.kernelspec.name). Default "dpo-ts". */
  name?: string;
  /** Display name. Default "TypeScript (dpo-ts)". */
  displayName?: string;
  /** The node binary to run (default: the one running this process). */
  node?: string;
  /** Node options (default KERNEL_NODE_OPTIONS). */
  nodeOptions?: string[];
}

/** What {@link installKernel} wrote: the kernel's name, folder, kernel.json path and contents. */
export interface InstalledKernel {
  name: string;
  dir: string;
  kernelJsonPath: string;
  spec: KernelSpec;
}

/** tslab's launcher script (node_modules/tslab/bin/tslab), absolute. */
export function tslabBin(): string {
  const pkg = require.resolve("tslab/package.json");
  const bin = path.join(path.dirname(pkg), "bin", "tslab");
  if (!fs.existsSync(bin)) throw new Error(`tslab launcher not found at ${bin}`);
  return bin;
}

/** The kernel.json content. */
export function kernelSpec(opts: Pick<InstallKernelOptions, "displayName" | "node" | "nodeOptions"> = {}): KernelSpec {
  return {
    // Same argument shape as tslab's install.py ("--config-path" and "{connection_file}" split, tslab#36).
    argv: [opts.node ?? process.execPath, ...(opts.nodeOptions ?? KERNEL_NODE_OPTIONS), tslabBin(), "kernel", "--config-path", "{connection_file}"],
    display_name: opts.displayName ?? KERNEL_DISPLAY_NAME,
    language: "typescript",
    interrupt_mode: "signal",
    metadata: {},
  };
}

/** jupyter_core's per-user data folder: JUPYTER_DATA_DIR, else the platform's default. */
export function jupyterUserDataDir(env: NodeJS.ProcessEnv = process.env, platform: NodeJS.Platform = process.platform): string {
  if (env.JUPYTER_DATA_DIR) return env.JUPYTER_DATA_DIR;
  const home = env.HOME || env.USERPROFILE || os.homedir();
  if (platform === "darwin") return path.join(home, "Library", "Jupyter");
  if (platform === "win32") {
    const appData = env.APPDATA;
    if (!appData) throw new Error("APPDATA is not set; cannot locate the per-user Jupyter folder");
    return path.win32.join(appData, "jupyter");
  }
  const xdg = env.XDG_DATA_HOME || path.join(home, ".local", "share");
  return path.join(xdg, "jupyter");
}

/** jupyter_core's first system-wide data folder (where `jupyter kernelspec install` puts kernels by default). */
export function jupyterSystemDataDir(env: NodeJS.ProcessEnv = process.env, platform: NodeJS.Platform = process.platform): string {
  if (platform === "win32") {
    const programData = env.PROGRAMDATA;
    if (!programData) throw new Error("PROGRAMDATA is not set; cannot locate the system-wide Jupyter folder");
    return path.win32.join(programData, "jupyter");
  }
  return "/usr/local/share/jupyter";
}

/** The folder the kernelspec goes to. */
export function kernelDir(opts: Pick<InstallKernelOptions, "user" | "prefix" | "name"> = {}): string {
  const name = opts.name ?? DEFAULT_KERNEL_NAME;
  if (opts.user && opts.prefix) throw new Error("kernel install: --user and --prefix are mutually exclusive");
  const join = process.platform === "win32" ? path.win32.join : path.join;
  if (opts.prefix) return join(path.resolve(opts.prefix), "share", "jupyter", "kernels", name);
  if (opts.user) return join(jupyterUserDataDir(), "kernels", name);
  return join(jupyterSystemDataDir(), "kernels", name);
}

/** Writes NAME/kernel.json (replacing an earlier spec of the same name). */
export function installKernel(opts: InstallKernelOptions = {}): InstalledKernel {
  const name = opts.name ?? DEFAULT_KERNEL_NAME;
  // jupyter_client's rule for kernel names.
  if (!/^[a-z0-9._-]+$/i.test(name)) throw new Error(`kernel install: invalid kernel name ${JSON.stringify(name)} (allowed: letters, digits, ".", "_", "-")`);
  const dir = kernelDir({ ...opts, name });
  const spec = kernelSpec(opts);
  const kernelJsonPath = path.join(dir, "kernel.json");
  try {
    fs.mkdirSync(dir, { recursive: true });
    fs.writeFileSync(kernelJsonPath, JSON.stringify(spec, null, 1) + "\n");
  } catch (e) {
    const err = e as NodeJS.ErrnoException;
    const hint = err.code === "EACCES" || err.code === "EPERM" ? "; use --user or --prefix DIR" : "";
    throw new Error(`kernel install: cannot write ${kernelJsonPath}: ${err.message}${hint}`);
  }
  return { name, dir, kernelJsonPath, spec };
}
