/**
 * reportTo "tensorboard": log entries as TensorBoard scalars (and the config as hparams) in an event file of
 * loggingDir. A resumed run opens a new event file and logs from the checkpoint's step on, as transformers does.
 */
import { SummaryWriter } from "../../metrics/tensorboard";
import type { DPOConfig } from "../config";
import type { LogEntry, TrainerCallback, TrainerState } from "./callback";

export class TensorBoardWriter implements TrainerCallback {
  private writer: SummaryWriter | null = null;

  onTrainBegin(state: TrainerState, config: DPOConfig): void {
    this.writer = new SummaryWriter(config.loggingDir);
    if (state.resumedFromStep === 0) this.writer.addHparams(config as unknown as Record<string, unknown>);
  }

  onLog(entry: LogEntry): void {
    this.writer?.addScalars(entry);
  }

  onTrainEnd(): void {
    this.close();
  }

  onTrainError(): void {
    this.close();
  }

  private close(): void {
    this.writer?.close();
    this.writer = null;
  }
}
