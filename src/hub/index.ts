/**
 * The Hugging Face Hub client of dpo-ts (models and data sets), on @huggingface/hub, sharing Python's cache.
 */
export { hubCacheDir, hubEndpoint, hubOffline } from "./env";
export { resolveToken } from "./token";
export { HubError } from "./errors";
export type { HubErrorKind } from "./errors";
export { looksLikeRepoId } from "./repo-id";
export type { RepoType } from "./repo-id";
export { formatProgress } from "./progress";
export type { DownloadProgress, ProgressHook } from "./progress";
export { snapshotDownload } from "./snapshot";
export type { HubOptions, SnapshotOptions, Snapshot } from "./snapshot";
export { resolvePretrained, MODEL_FILES, TOKENIZER_FILES } from "./model-files";
export { resolveHubDataset } from "./dataset-files";
export type { HubDatasetOptions, HubDatasetFiles } from "./dataset-files";
