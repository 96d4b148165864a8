/**
 * reportTo "jsonl": every log entry as one line of OUT/metrics.jsonl (TRL's metric names). A resumed run rewrites the
 * file from the checkpoint's log history, so the lines logged after the checkpoint by the killed run are dropped.
 */
import * as fs from "fs";
import * as path from "path";
import type { DPOConfig } from "../config";
import type { LogEntry, TrainerCallback, TrainerState } from "./callback";

/** reportTo "jsonl": writes every log entry as one line of OUT/metrics.jsonl. */
export class JsonlWriter implements TrainerCallback {
  private file = "";

  /** Starts OUT/metrics.jsonl with the log history so far (empty, or a resumed checkpoint's). */
  onTrainBegin(state: TrainerState, config: DPOConfig): void {
    this.file = path.join(config.outputDir, "metrics.jsonl");
    fs.writeFileSync(this.file, state.logHistory.map((e) => JSON.stringify(e) + "\n").join(""));
  }

  /** Appends one log entry. */
  onLog(entry: LogEntry): void {
    fs.appendFileSync(this.file, JSON.stringify(entry) + "\n");
  }
}
