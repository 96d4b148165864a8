/**
 * Training progress displays moved to src/train/callbacks/progress.ts (they are trainer callbacks); this module keeps
 * the old import path working for notebooks and scripts.
 */
export * from "../train/callbacks/progress";
