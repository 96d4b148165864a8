/**
 * Hub repository ids ("org/name" or "name") and how they map to cache folder names (models--org--name,
 * datasets--org--name), as huggingface_hub's repo_folder_name does.
 */
export type RepoType = "model" | "dataset";

/** What the Hub accepts as a repo id: one or two parts of letters, digits, "-", "_", "."; no "--" or "..". */
const REPO_ID = /^(?:[A-Za-z0-9][\w.-]{0,95}\/)?[A-Za-z0-9][\w.-]{0,95}$/;

/** True when `s` is shaped like a Hub repo id (callers check first that it is not an existing path). */
export function looksLikeRepoId(s: string): boolean {
  return REPO_ID.test(s) && !s.includes("--") && !s.includes("..") && !s.endsWith(".") && !s.endsWith("-");
}

/** Throws a clear error when `id` is not a repo id. */
export function checkRepoId(id: string, type: RepoType): void {
  if (!looksLikeRepoId(id)) {
    throw new Error(`"${id}" is not an existing folder nor a Hugging Face ${type} repo id (expected "org/name")`);
  }
}

/** models--org--name / datasets--org--name. */
export function repoFolderName(id: string, type: RepoType): string {
  return [`${type}s`, ...id.split("/")].join("--");
}

/** The Hub's URL prefix for a repo's files: "" for models, "datasets/" for data sets. */
export function repoUrlPrefix(type: RepoType): string {
  return type === "model" ? "" : `${type}s/`;
}
