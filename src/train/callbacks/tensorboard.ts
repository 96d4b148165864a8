/**
 * reportTo "tensorboard": log entries as TensorBoard scalars (and the config as hparams) in an event file of
 * loggingDir. A resumed run opens a new event file and logs from the checkpoint's step on, as transformers does.
 */
import { SummaryWriter } from "../../metrics/tensorboard";
import type { DPOConfig } from "../config";
import type { LogEntry, TrainerCallback, TrainerState } from "./callback";

/** reportTo "tensorboard": writes the hyperparameters and every log entry as TensorBoard events under loggingDir. */
export class TensorBoardWriter implements TrainerCallback {
  private writer: SummaryWriter | null = null;

  /** Opens the event file; a new run also records its hyperparameters. */
  onTrainBegin(state: TrainerState, config: DPOConfig): void {
    this.writer = new SummaryWriter(config.loggingDir);
    if (state.resumedFromStep === 0) this.writer.addHparams(config as unknown as Record<string, unknown>);
  }

  /** Writes every number of the entry as a scalar at its step. */
  onLog(entry: LogEntry): void {
    this.writer?.addScalars(entry);
  }

  /** Closes the event file. */
  onTrainEnd(): void {
    this.close();
  }

  /** Closes the event file, so what was logged before the error is kept. */
  onTrainError(): void {
    this.close();
  }

  private close(): void {
    this.writer?.close();
    this.writer = null;
  }
}
