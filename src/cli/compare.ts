/** `dpo-ts compare RUN_DIR...`: several runs side by side on one page (e.g. a beta sweep). */
import { writeComparison } from "../metrics/report";
import { CliError, OptionsTable, stringValue } from "./framework";

/** Options of `dpo-ts compare`. */
export const compareOptions: OptionsTable = {
  out: { type: "string", valueName: "FILE", description: "the page to write (default runs/compare.html)" },
};

/** `dpo-ts compare RUN_DIR...`: writes one HTML page comparing the runs' metrics; throws CliError without run folders. */
export async function compareCommand(values: Record<string, unknown>, positionals: string[]): Promise<void> {
  if (positionals.length === 0) throw new CliError("give the run folders: dpo-ts compare RUN_DIR... [--out FILE]");
  console.log(`written ${writeComparison(positionals, stringValue(values, "out") ?? "runs/compare.html")}`);
}
