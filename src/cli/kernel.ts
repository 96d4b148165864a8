/**
 * `dpo-ts kernel install`: the command line over src/course/kernel.ts (which writes the kernelspec).
 */
import { DEFAULT_KERNEL_NAME, InstalledKernel, KERNEL_DISPLAY_NAME, installKernel } from "../course/kernel";
import { CliError, OptionsTable, stringValue } from "./framework";

/** Options of `dpo-ts kernel install`. */
export const kernelOptions: OptionsTable = {
  user: {
    type: "boolean",
    description:
      "per-user kernels folder (~/.local/share/jupyter/kernels on Linux, ~/Library/Jupyter/kernels on macOS, %APPDATA%\\jupyter\\kernels on Windows)",
  },
  prefix: { type: "string", valueName: "DIR", description: "DIR/share/jupyter/kernels (e.g. --prefix .venv for a virtualenv's Jupyter)" },
  name: { type: "string", valueName: "NAME", description: `kernel name (default "${DEFAULT_KERNEL_NAME}"; the course notebooks use "${DEFAULT_KERNEL_NAME}")` },
  "display-name": { type: "string", valueName: "TEXT", description: `name shown in Jupyter (default "${KERNEL_DISPLAY_NAME}")` },
};

/** `dpo-ts kernel install [...]`: without --user or --prefix, the system-wide folder (/usr/local/share/jupyter/kernels). */
export function kernelCommand(values: Record<string, unknown>, positionals: string[]): void {
  const [sub, ...rest] = positionals;
  if (sub !== "install")
    throw new CliError(
      sub === undefined ? "say what to do: dpo-ts kernel install [options] (see --help)" : `unknown subcommand "${sub}" (only "install"; see --help)`,
    );
  if (rest.length) throw new CliError(`unexpected argument "${rest[0]}" (see --help)`);
  if (values.user && values.prefix !== undefined) throw new CliError("--user and --prefix are mutually exclusive");
  let k: InstalledKernel;
  try {
    k = installKernel({
      user: Boolean(values.user),
      prefix: stringValue(values, "prefix"),
      name: stringValue(values, "name"),
      displayName: stringValue(values, "display-name"),
    });
  } catch (e) {
    throw new CliError((e as Error).message.replace(/^kernel install: /, ""));
  }
  console.log(`Installed kernelspec ${k.name} in ${k.dir}`);
}
