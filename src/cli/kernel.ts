/**
 * `dpo-ts kernel install`: the command line over src/course/kernel.ts (which writes the kernelspec).
 */
import { installKernel, type InstallKernelOptions } from "../course/kernel";

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

