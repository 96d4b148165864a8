/**
 * dpo-ts/course: running the course's notebooks without Jupyter and registering their Jupyter kernel. Kept apart from
 * the library (`dpo-ts`) because only the course tooling and instructors need it:
 *
 * ```ts
 * import { runNotebookInChild, installKernel } from "dpo-ts/course";
 * ```
 */

/** Runs a notebook in this process, cell by cell, through tslab's converter and executor. */
export { runNotebook, NotebookCellError } from "./runner";
export type { RunNotebookOptions, RunNotebookResult, CellEvent, CellStartEvent, CellTiming } from "./runner";
/** Runs a notebook in a child Node process (its own memory and backend), as `dpo-ts course` does. */
export { runNotebookInChild } from "./run-in-child";
export type { ChildRunOptions, ChildRunResult } from "./run-in-child";
/** Papermill-style parameters: the names a notebook's parameters cell declares, and a copy with new values. */
export { injectParameters, parameterDeclarations } from "./parameters";
/** The Jupyter kernelspec that starts this package's tslab (`dpo-ts kernel install`). */
export { installKernel, kernelSpec, kernelDir, DEFAULT_KERNEL_NAME } from "./kernel";
export type { InstallKernelOptions, InstalledKernel, KernelSpec } from "./kernel";
/** The notebook metadata tslab reports, which the course notebooks carry so that opening them changes nothing. */
export { TSLAB_LANGUAGE_INFO, DPO_TS_KERNELSPEC, splitLines } from "./notebook";
/** Named parameter sets for the course runner (`dpo-ts course --preset workshop`). */
export { COURSE_PRESETS, DEFAULT_PRESET, coursePreset, presetParameters } from "./presets";
export type { CoursePreset } from "./presets";
