/**
 * The `configs:` list of a data set's README.md YAML header, the Hub's way to say which files make which split:
 *
 *   configs:
 *   - config_name: default
 *     default: true
 *     data_files:
 *     - split: train
 *       path: data/train-*
 *
 * (`data_files` may also be one pattern, a list of patterns — all of them the "train" split — or a split -> patterns
 * map.) The header is parsed with the `yaml` package; only `configs` is read.
 */
import { parse } from "yaml";

/** A `configs:` entry of a data set's README: its name, whether it is the default, and its splits' file patterns. */
export interface DataConfig {
  name: string;
  isDefault: boolean;
  /** split name -> glob patterns of its files. */
  splits: Map<string, string[]>;
}

type Yaml = unknown;

/** The YAML header of a README.md (between the leading "---" lines), or null. */
function frontMatter(readme: string): string[] | null {
  const lines = readme.replace(/^\uFEFF/, "").split(/\r?\n/);
  if (lines[0]?.trim() !== "---") return null;
  const end = lines.findIndex((l, i) => i > 0 && l.trim() === "---");
  return end < 0 ? null : lines.slice(1, end);
}

/** The README's data configs, or null when it declares none. Errors name README.md and the line. */
export function readmeConfigs(readme: string, source = "README.md"): DataConfig[] | null {
  const header = frontMatter(readme);
  if (!header) return null;
  let front: unknown;
  try {
    front = parse(header.join("\n"));
  } catch (err) {
    throw new Error(`${source}: invalid YAML header: ${(err as Error).message}`);
  }
  if (front === null || typeof front !== "object" || !("configs" in front)) return null;
  const parsed = (front as { configs: Yaml }).configs;
  if (!Array.isArray(parsed)) throw new Error(`${source}: "configs" must be a list`);
  return parsed.map((raw: Yaml, k: number) => {
    if (raw === null || typeof raw !== "object" || Array.isArray(raw)) throw new Error(`${source}: configs[${k}] must be a mapping`);
    const entry = raw as Record<string, Yaml>;
    const name = typeof entry.config_name === "string" && entry.config_name ? entry.config_name : "default";
    const splits = new Map<string, string[]>();
    const asList = (v: Yaml | undefined): string[] =>
      typeof v === "string" ? [v] : Array.isArray(v) ? v.filter((x): x is string => typeof x === "string") : [];
    const dataFiles = entry.data_files;
    if (typeof dataFiles === "string") splits.set("train", [dataFiles]);
    else if (Array.isArray(dataFiles)) {
      for (const item of dataFiles as Yaml[]) {
        if (typeof item === "string") splits.set("train", [...(splits.get("train") ?? []), item]);
        else if (item && typeof item === "object" && typeof (item as { split?: unknown }).split === "string") {
          const { split, path } = item as { split: string; path?: Yaml };
          splits.set(split, [...(splits.get(split) ?? []), ...asList(path)]);
        }
      }
    } else if (dataFiles && typeof dataFiles === "object") {
      for (const [split, patterns] of Object.entries(dataFiles)) splits.set(split, asList(patterns));
    }
    return { name, isDefault: entry.default === true || entry.default === "true", splits };
  });
}
