/** A small command-line parser: `--name value`, `--name=value`, `--flag`; kebab-case names become camelCase. */
export interface ParsedArgs {
  positional: string[];
  options: Record<string, string | boolean>;
}

export function parseArgs(argv: string[], flags: string[] = []): ParsedArgs {
  const positional: string[] = [];
  const options: Record<string, string | boolean> = {};
  const booleanFlags = new Set(flags.map(camel));
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    if (!arg.startsWith("--")) {
      positional.push(arg);
      continue;
    }
    const eq = arg.indexOf("=");
    const name = camel(arg.slice(2, eq > 0 ? eq : undefined));
    if (eq > 0) options[name] = arg.slice(eq + 1);
    else if (booleanFlags.has(name)) options[name] = true;
    else {
      const value = argv[i + 1];
      if (value === undefined || value.startsWith("--")) throw new Error(`option --${kebab(name)} needs a value`);
      options[name] = value;
      i++;
    }
  }
  return { positional, options };
}

export function camel(name: string): string {
  return name.replace(/-([a-z])/g, (_, c: string) => c.toUpperCase());
}

export function kebab(name: string): string {
  return name.replace(/[A-Z]/g, (c) => "-" + c.toLowerCase());
}

/** A required string option. */
export function need(options: Record<string, string | boolean>, name: string, command: string): string {
  const value = options[name];
  if (typeof value !== "string" || !value) throw new Error(`dpo-ts ${command}: --${kebab(name)} is required`);
  return value;
}

/** A numeric option, or the fallback. */
export function numberOption(options: Record<string, string | boolean>, name: string, fallback?: number): number | undefined {
  const value = options[name];
  if (value === undefined) return fallback;
  const n = Number(value);
  if (typeof value !== "string" || !Number.isFinite(n)) throw new Error(`option --${kebab(name)} must be a number, got ${JSON.stringify(value)}`);
  return n;
}
