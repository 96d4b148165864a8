/**
 * `dpo-ts kernel install`: writes a Jupyter kernelspec for this project's tslab, without Python.
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

export const DEFAULT_KERNEL_NAME = "dpo-ts";
export const KERNEL_DISPLAY_NAME = "TypeScript (dpo-ts)";
/** Node options the kernel runs with: source-mapped stack traces into dpo-ts, and heap room for training. */
export const KERNEL_NODE_OPTIONS = ["--enable-source-maps", "--max-old-space-size=4096"];

export interface KernelSpec {
  argv: string[];
  display_name: string;
  language: string;
  interrupt_mode: "signal";
  metadata: Record<string, unknown>;
}

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

export const KERNEL_USAGE = `usage: dpo-ts kernel install [--user | --prefix DIR] [--name NAME] [--display-name TEXT]

Writes a Jupyter kernelspec that starts this package's tslab (TypeScript) kernel.
  --user          per-user kernels folder (~/.local/share/jupyter/kernels on Linux,
                  ~/Library/Jupyter/kernels on macOS, %APPDATA%\\jupyter\\kernels on Windows)
  --prefix DIR    DIR/share/jupyter/kernels (e.g. --prefix .venv for a virtualenv's Jupyter)
  (default)       system-wide: /usr/local/share/jupyter/kernels (%PROGRAMDATA%\\jupyter\\kernels on Windows)
  --name NAME     kernel name (default "dpo-ts"; the course notebooks use "dpo-ts")
  --display-name  name shown in Jupyter (default "TypeScript (dpo-ts)")`;

/** Arguments as parsed by the dpo-ts CLI (src/cli/args.ts): kebab-case options in camelCase. */
export interface KernelCliArgs {
  positional: string[];
  options: Record<string, string | boolean>;
}

function toArgv(args: KernelCliArgs): string[] {
  const argv = [...args.positional];
  for (const [key, value] of Object.entries(args.options)) {
    const flag = "--" + key.replace(/[A-Z]/g, (c) => "-" + c.toLowerCase());
    if (value === true) argv.push(flag);
    else if (value !== false) argv.push(`${flag}=${value}`);
  }
  return argv;
}

/**
 * The `dpo-ts kernel ...` subcommand. `argv` are the words after "kernel" (or the CLI's parsed arguments).
 * Returns the process exit code (0 ok, 1 install failed, 2 usage error); writes messages to `out` / `err`
 * (default: process stdout / stderr).
 */
export function kernelCommand(
  argv: string[] | KernelCliArgs,
  io: { out?: (s: string) => void; err?: (s: string) => void } = {},
): number {
  const args = Array.isArray(argv) ? argv : toArgv(argv);
  const out = io.out ?? ((s: string) => void process.stdout.write(s + "\n"));
  const err = io.err ?? ((s: string) => void process.stderr.write(s + "\n"));
  const [sub, ...rest] = args;
  if (sub === undefined || sub === "--help" || sub === "-h" || sub === "help") {
    out(KERNEL_USAGE);
    return sub === undefined ? 2 : 0;
  }
  if (sub !== "install") {
    err(`dpo-ts kernel: unknown subcommand ${JSON.stringify(sub)}\n${KERNEL_USAGE}`);
    return 2;
  }
  const opts: InstallKernelOptions = {};
  for (let i = 0; i < rest.length; i++) {
    const a = rest[i];
    const [flag, inline] = a.startsWith("--") && a.includes("=") ? [a.slice(0, a.indexOf("=")), a.slice(a.indexOf("=") + 1)] : [a, undefined];
    const value = (): string => {
      const v = inline ?? rest[++i];
      if (v === undefined || v === "") throw new Error(`dpo-ts kernel install: ${flag} needs a value`);
      return v;
    };
    try {
      switch (flag) {
        case "--user":
          opts.user = true;
          break;
        case "--prefix":
          opts.prefix = value();
          break;
        case "--name":
          opts.name = value();
          break;
        case "--display-name":
          opts.displayName = value();
          break;
        case "--help":
        case "-h":
          out(KERNEL_USAGE);
          return 0;
        default:
          err(`dpo-ts kernel install: unknown option ${JSON.stringify(a)}\n${KERNEL_USAGE}`);
          return 2;
      }
    } catch (e) {
      err((e as Error).message);
      return 2;
    }
  }
  try {
    const k = installKernel(opts);
    out(`Installed kernelspec ${k.name} in ${k.dir}`);
    return 0;
  } catch (e) {
    err((e as Error).message);
    return 1;
  }
}

