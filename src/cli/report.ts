/** `dpo-ts report RUN_DIR`: rebuilds RUN_DIR/report.html (config, curves, final metrics, sample generations). */
import { writeReport } from "../metrics/report";
import { CliError, OptionsTable } from "./framework";

/** Options of `dpo-ts report` (none). */
export const reportOptions: OptionsTable = {};

/** `dpo-ts report RUN_DIR`: writes the run's report.html from its metrics.jsonl; throws CliError unless given one folder. */
export async function reportCommand(_values: Record<string, unknown>, positionals: string[]): Promise<void> {
  if (positionals.length !== 1) throw new CliError(`give one run folder: dpo-ts report RUN_DIR${positionals.length ? ` (got ${positionals.length})` : ""}`);
  console.log(`written ${writeReport(positionals[0])}`);
}
