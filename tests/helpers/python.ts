import { spawnSync } from "child_process";
import * as fs from "fs";
import * as path from "path";

/** The project's Python venv (scripts/setup-python.sh): $DPO_VENV or <repo>/.venv. */
export function venvPython(): string | null {
  const venv = process.env.DPO_VENV ?? path.join(__dirname, "../../.venv");
  const python = path.join(venv, "bin/python");
  return fs.existsSync(python) ? python : null;
}

/** The venv's python when it can import every module named, else null. */
export function pythonWith(...modules: string[]): string | null {
  const python = venvPython();
  if (!python) return null;
  const probe = spawnSync(python, ["-c", modules.map((m) => `import ${m}`).join("; ")], { encoding: "utf8" });
  return probe.status === 0 ? python : null;
}
