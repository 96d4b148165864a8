/**
 * Papermill-style parameters for notebooks: the cell tagged "parameters" declares them with `let`, and a run
 * inserts a cell tagged "injected-parameters" after it that assigns the values given (type-checked by tslab).
 */
import type * as TS from "typescript";
import { Cell, Notebook, cellTags, codeCell, findParametersCell } from "./notebook";
import { loadTslab } from "./tslab";

/** How each top-level variable of a parameters cell is declared. */
export function parameterDeclarations(source: string): Map<string, "let" | "const" | "var"> {
  const { ts } = loadTslab();
  const sf = ts.createSourceFile("parameters.ts", source, ts.ScriptTarget.Latest, false, ts.ScriptKind.TS);
  const out = new Map<string, "let" | "const" | "var">();
  const addNames = (name: TS.BindingName, kind: "let" | "const" | "var") => {
    if (ts.isIdentifier(name)) {
      out.set(name.text, kind);
      return;
    }
    for (const el of name.elements) {
      if (!ts.isOmittedExpression(el)) addNames(el.name, kind);
    }
  };
  for (const stmt of sf.statements) {
    if (!ts.isVariableStatement(stmt)) continue;
    const flags = stmt.declarationList.flags;
    const kind = flags & ts.NodeFlags.Const ? "const" : flags & ts.NodeFlags.Let ? "let" : "var";
    for (const decl of stmt.declarationList.declarations) addNames(decl.name, kind);
  }
  return out;
}

/** A TypeScript literal for a JSON value; rejects values JSON cannot carry faithfully. */
function jsonLiteral(value: unknown, where: string): string {
  const check = (v: unknown, at: string): void => {
    if (v === null || typeof v === "string" || typeof v === "boolean") return;
    if (typeof v === "number") {
      if (!Number.isFinite(v)) throw new Error(`${at}: ${v} is not representable in JSON`);
      return;
    }
    if (Array.isArray(v)) {
      v.forEach((x, i) => check(x, `${at}[${i}]`));
      return;
    }
    if (typeof v === "object" && Object.getPrototypeOf(v) === Object.prototype) {
      for (const [k, x] of Object.entries(v as Record<string, unknown>)) check(x, `${at}.${k}`);
      return;
    }
    throw new Error(`${at}: a ${typeof v === "object" ? ((v as object).constructor?.name ?? "object") : typeof v} is not a JSON value`);
  };
  check(value, where);
  return JSON.stringify(value);
}

/**
 * Returns a copy of `nb` with a cell tagged "injected-parameters" inserted after the "parameters" cell
 * (an earlier injected cell is replaced). Each parameter becomes an assignment `NAME = <json>;`, which tslab
 * type-checks against the `let` declaration (so a wrong type fails with a compile error naming the variable).
 * The assignments sit in a block so the cell has no last-expression value to echo.
 */
export function injectParameters(nb: Notebook, parameters: Record<string, unknown>, opts: { notebookPath?: string; allowUnknown?: boolean } = {}): Notebook {
  const file = opts.notebookPath ?? "<notebook>";
  const names = Object.keys(parameters);
  const cells: Cell[] = nb.cells.filter((c) => !cellTags(c).includes("injected-parameters"));
  const copy: Notebook = { ...nb, cells };
  if (names.length === 0) return copy;
  const pIndex = findParametersCell(copy);
  if (pIndex < 0) {
    throw new Error(`${file}: parameters given (${names.join(", ")}) but no code cell is tagged "parameters"`);
  }
  const decls = parameterDeclarations(cells[pIndex].source);
  const lines: string[] = [];
  const newDecls: string[] = [];
  for (const name of names) {
    if (!/^[A-Za-z_$][A-Za-z0-9_$]*$/.test(name)) throw new Error(`${file}: parameter ${JSON.stringify(name)}: not an identifier`);
    const lit = jsonLiteral(parameters[name], `${file}: parameter ${name}`);
    const kind = decls.get(name);
    if (kind === undefined) {
      if (!opts.allowUnknown) {
        const known = [...decls.keys()];
        throw new Error(
          `${file}: parameter ${name}: not declared in the "parameters" cell (cell ${pIndex}); declared: ${known.length ? known.join(", ") : "(none)"}`,
        );
      }
      newDecls.push(`let ${name} = ${lit};`);
    } else if (kind === "const") {
      throw new Error(
        `${file}: parameter ${name}: declared with const in the "parameters" cell (cell ${pIndex}); declare parameters with let so they can be overridden`,
      );
    } else {
      lines.push(`  ${name} = ${lit};`);
    }
  }
  let source = "// Parameters injected by the dpo-ts notebook runner.\n";
  if (newDecls.length) source += newDecls.join("\n") + "\n";
  if (lines.length) source += "{\n" + lines.join("\n") + "\n}\n";
  const injected = codeCell(source.replace(/\n$/, ""), { tags: ["injected-parameters"] });
  cells.splice(pIndex + 1, 0, injected);
  return copy;
}
