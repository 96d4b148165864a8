/**
 * Course presets: named parameter sets for the course runner (`dpo-ts course --preset NAME`). A preset's values are
 * injected into every notebook whose "parameters" cell declares them, like the runner's own flags; a flag given on the
 * command line (--steps, --name, ...) wins over the preset. The default preset, "full", is the course as written.
 */

/** One named parameter set. */
export interface CoursePreset {
  /** One line for `dpo-ts course --help`. */
  description: string;
  /** Parameter name → value, injected where a notebook declares the name (each name must be declared by one). */
  parameters: Record<string, unknown>;
}

/** The course's presets. */
export const COURSE_PRESETS: Readonly<Record<string, CoursePreset>> = {
  full: {
    description: "the whole course as written: every notebook with its own parameters",
    parameters: {},
  },
  workshop: {
    description: "a 45-minute workshop: the same five steps with smaller runs (under 3 minutes on a 2-core laptop, wasm)",
    parameters: {
      // 03: the full fine-tuning comparison halved (the LoRA main run, which 05 judges, is unchanged).
      fullSteps: 10,
      // 04: the β sweep on a quarter of the held-out prompts (still four βs, each trained as 03's main run).
      sweepPrompts: 60,
    },
  },
};

/** The default preset's name. */
export const DEFAULT_PRESET = "full";

/** The preset called `name`; throws naming the presets there are. */
export function coursePreset(name: string): CoursePreset {
  const preset = Object.prototype.hasOwnProperty.call(COURSE_PRESETS, name) ? COURSE_PRESETS[name] : undefined;
  if (!preset) throw new Error(`no course preset "${name}" (presets: ${Object.keys(COURSE_PRESETS).join(", ")})`);
  return preset;
}

/**
 * The runner's parameters for a run: the preset's values, overridden by those given on the command line (undefined
 * means "not given"). Throws when a preset value is declared by none of `declared` (the names each notebook's
 * parameters cell declares), so a preset can never silently do nothing.
 */
export function presetParameters(
  name: string,
  given: Record<string, unknown>,
  declared: ReadonlyArray<ReadonlySet<string> | Map<string, unknown>>,
): Record<string, unknown> {
  const preset = coursePreset(name);
  for (const key of Object.keys(preset.parameters))
    if (!declared.some((d) => d.has(key))) throw new Error(`course preset "${name}": parameter ${key} is declared by no notebook's parameters cell`);
  const out: Record<string, unknown> = { ...preset.parameters };
  for (const [key, value] of Object.entries(given)) if (value !== undefined) out[key] = value;
  return out;
}
