/** `dpo-ts compare RUN_DIR...`: several runs side by side on one page (e.g. a beta sweep). */
import { writeComparison } from "../metrics/report";
import { CliError, OptionsTable, stringValue } from "./framework";

export const compareOptions: OptionsTable = {
  out: { type: "string", valueName: "FILE", description: "the page to write (default runs/compare.html)" },
};

export async function compareCommand(values: Record<string, unknown>, positionals: string[]): Promise<void> {
  if (positionals.length === 0) throw new CliError("give the run folders: dpo-ts compare RUN_DIR... [--out FILE]");
  console.log(`written ${writeComparison(positionals, stringValue(values, "out") ?? "runs/compare.html")}`);
}
