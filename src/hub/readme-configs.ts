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
 * (`data_files` may also be one pattern or a list of patterns: all of them the "train" split.) Only this block is
 * parsed, with a YAML subset — block maps and lists, plain or quoted scalars, [flow, lists] — which is what the Hub
 * writes there; the rest of the header (free-form card metadata) is not read.
 */

export interface DataConfig {
  name: string;
  isDefault: boolean;
  /** split name -> glob patterns of its files. */
  splits: Map<string, string[]>;
}

type Yaml = string | Yaml[] | { [key: string]: Yaml };

interface Line {
  indent: number;
  text: string;
  lineNo: number;
}

function scalar(raw: string): Yaml {
  const s = raw.trim();
  if (s.startsWith("[") && s.endsWith("]")) {
    return s.slice(1, -1).split(",").map((x) => scalar(x) as string).filter((x) => x !== "");
  }
  if ((s.startsWith('"') && s.endsWith('"')) || (s.startsWith("'") && s.endsWith("'"))) return s.slice(1, -1);
  return s;
}

/** "key: value" (value may be empty); null when the text is not a mapping entry. */
function keyValue(text: string): [string, string] | null {
  const m = /^("[^"]*"|'[^']*'|[^:#'"][^:]*?)\s*:(?:\s+(.*)|$)/.exec(text);
  return m ? [scalar(m[1]) as string, m[2] ?? ""] : null;
}

function parseBlock(lines: Line[], start: number, indent: number): [Yaml, number] {
  if (start >= lines.length) return ["", start];
  if (lines[start].text.startsWith("-")) {
    const items: Yaml[] = [];
    let i = start;
    while (i < lines.length && lines[i].indent === indent && lines[i].text.startsWith("-")) {
      const rest = lines[i].text.replace(/^-\s?/, "");
      if (rest === "") {
        const [value, next] = parseBlock(lines, i + 1, lines[i + 1]?.indent ?? indent + 2);
        items.push(value);
        i = next;
      } else if (keyValue(rest)) {
        // "- key: value": a mapping whose first entry shares the dash's line.
        const inner = indent + (lines[i].text.length - rest.length);
        const copy = [...lines];
        copy[i] = { indent: inner, text: rest, lineNo: lines[i].lineNo };
        const [value, next] = parseBlock(copy, i, inner);
        items.push(value);
        i = next;
      } else {
        items.push(scalar(rest));
        i++;
      }
    }
    return [items, i];
  }
  const map: { [key: string]: Yaml } = {};
  let i = start;
  while (i < lines.length && lines[i].indent === indent && !lines[i].text.startsWith("-")) {
    const kv = keyValue(lines[i].text);
    if (!kv) throw new Error(`line ${lines[i].lineNo}: expected "key: value", got ${JSON.stringify(lines[i].text)}`);
    const [key, value] = kv;
    if (value !== "") {
      map[key] = scalar(value);
      i++;
      continue;
    }
    const next = lines[i + 1];
    // A nested block is deeper, or a list at the same indent (YAML allows "key:\n- item").
    if (next && (next.indent > indent || (next.indent === indent && next.text.startsWith("-")))) {
      const [nested, after] = parseBlock(lines, i + 1, next.indent);
      map[key] = nested;
      i = after;
    } else {
      map[key] = "";
      i++;
    }
  }
  return [map, i];
}

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
  const start = header.findIndex((l) => /^configs\s*:/.test(l));
  if (start < 0) return null;
  const block: Line[] = [];
  for (let i = start + 1; i < header.length; i++) {
    const raw = header[i].replace(/\s+#.*$/, "");
    if (raw.trim() === "" || raw.trim().startsWith("#")) continue;
    const indent = raw.length - raw.trimStart().length;
    if (indent === 0 && !raw.startsWith("-")) break; // the next top-level key
    block.push({ indent, text: raw.trim(), lineNo: i + 2 });
  }
  let parsed: Yaml;
  try {
    parsed = block.length ? parseBlock(block, 0, block[0].indent)[0] : [];
  } catch (err) {
    throw new Error(`${source}: configs: ${(err as Error).message}`);
  }
  if (!Array.isArray(parsed)) throw new Error(`${source}: "configs" must be a list`);
  return parsed.map((entry, k) => {
    if (typeof entry !== "object" || Array.isArray(entry)) throw new Error(`${source}: configs[${k}] must be a mapping`);
    const name = typeof entry.config_name === "string" && entry.config_name ? entry.config_name : "default";
    const splits = new Map<string, string[]>();
    const asList = (v: Yaml | undefined): string[] => (typeof v === "string" ? [v] : Array.isArray(v) ? v.filter((x): x is string => typeof x === "string") : []);
    const dataFiles = entry.data_files;
    if (typeof dataFiles === "string") splits.set("train", [dataFiles]);
    else if (Array.isArray(dataFiles)) {
      for (const item of dataFiles) {
        if (typeof item === "string") splits.set("train", [...(splits.get("train") ?? []), item]);
        else if (!Array.isArray(item) && typeof item.split === "string") splits.set(item.split, [...(splits.get(item.split) ?? []), ...asList(item.path)]);
      }
    } else if (dataFiles && typeof dataFiles === "object") {
      for (const [split, patterns] of Object.entries(dataFiles)) splits.set(split, asList(patterns));
    }
    return { name, isDefault: entry.default === "true", splits };
  });
}
