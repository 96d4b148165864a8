/**
 * TSDoc on every export of src/: each exported function, class, interface, type, enum and const (also those exported
 * by a local `export { name }` list), and each public member of an exported class, opens with a `/** … *\/` comment.
 * Read with the TypeScript compiler's parser (syntax only, no type checking), so the check takes well under a second.
 * Re-exports (`export … from`) are documented where they are declared, which this test checks too.
 */
import { describe, it, expect } from "vitest";
import * as fs from "fs";
import * as path from "path";
import ts from "typescript";

const SRC = path.join(__dirname, "..", "src");

/** Every .ts file under `dir`, as paths relative to src/ with "/". */
function sourceFiles(dir: string): string[] {
  return fs.readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const full = path.join(dir, e.name);
    if (e.isDirectory()) return sourceFiles(full);
    return e.name.endsWith(".ts") ? [path.relative(SRC, full).split(path.sep).join("/")] : [];
  });
}

/** Whether a `/** … *\/` comment stands directly before the node (a `//` or `/* *\/` comment does not count). */
function hasDocComment(node: ts.Node, sf: ts.SourceFile): boolean {
  return (ts.getLeadingCommentRanges(sf.text, node.getFullStart()) ?? []).some((r) => sf.text.startsWith("/**", r.pos) && r.end - r.pos > 5);
}

function hasModifier(node: ts.Node, kind: ts.SyntaxKind): boolean {
  return ts.canHaveModifiers(node) && (ts.getModifiers(node) ?? []).some((m) => m.kind === kind);
}

/** The name(s) a top-level statement declares. */
function declaredNames(st: ts.Statement): string[] {
  if (ts.isVariableStatement(st)) return st.declarationList.declarations.map((d) => d.name.getText());
  const name = (st as { name?: ts.Node }).name;
  return name && ts.isIdentifier(name) ? [name.text] : [];
}

/**
 * Exports (and public members of exported classes) of one source file without a doc comment, as "file:line name".
 * `file` is the name shown; `text` the source.
 */
function undocumentedExports(file: string, text: string): string[] {
  const sf = ts.createSourceFile(file, text, ts.ScriptTarget.Latest, true);
  const missing: string[] = [];
  const where = (node: ts.Node, name: string) => `${file}:${sf.getLineAndCharacterOfPosition(node.getStart(sf)).line + 1} ${name}`;
  // Names a local `export { a, b as c }` list exports: their declarations must be documented like `export` ones.
  const listed = new Set<string>();
  for (const st of sf.statements) {
    if (ts.isExportDeclaration(st) && !st.moduleSpecifier && st.exportClause && ts.isNamedExports(st.exportClause)) {
      for (const el of st.exportClause.elements) listed.add((el.propertyName ?? el.name).text);
    }
  }
  for (const st of sf.statements) {
    const names = declaredNames(st);
    const exported = hasModifier(st, ts.SyntaxKind.ExportKeyword) || names.some((n) => listed.has(n));
    if (!exported || ts.isExportDeclaration(st) || ts.isImportDeclaration(st)) continue;
    if (!hasDocComment(st, sf)) missing.push(where(st, names.join(", ") || "(anonymous)"));
    if (!ts.isClassDeclaration(st)) continue;
    for (const member of st.members) {
      if (ts.isConstructorDeclaration(member) || ts.isClassStaticBlockDeclaration(member) || ts.isSemicolonClassElement(member)) continue;
      if (hasModifier(member, ts.SyntaxKind.PrivateKeyword) || hasModifier(member, ts.SyntaxKind.ProtectedKeyword)) continue;
      if (member.name && ts.isPrivateIdentifier(member.name)) continue;
      if (!hasDocComment(member, sf)) missing.push(where(member, `${names[0]}.${member.name?.getText(sf) ?? "?"}`));
    }
  }
  return missing;
}

describe("TSDoc on every export", () => {
  it("finds an undocumented export, class member and listed export, and accepts documented ones", () => {
    const source = [
      "/** Documented. */",
      "export function documented(): void {}",
      "// a line comment is not TSDoc",
      "export const bare = 1;",
      "/** A class. */",
      "export class Thing {",
      "  /** Documented member. */",
      "  size = 1;",
      "  grow(): void {}",
      "  private hidden = 2;",
      "}",
      "function listedLater(): void {}",
      "export { listedLater };",
      "export { documented as alias };",
    ].join("\n");
    expect(undocumentedExports("x.ts", source)).toEqual(["x.ts:4 bare", "x.ts:9 Thing.grow", "x.ts:12 listedLater"]);
  });

  it("every export of src/ and every public member of an exported class has a /** … */ comment", () => {
    const files = sourceFiles(SRC);
    expect(files.length).toBeGreaterThan(50);
    const missing = files.flatMap((rel) => undocumentedExports(`src/${rel}`, fs.readFileSync(path.join(SRC, rel), "utf8")));
    expect(missing, `add a /** … */ comment (what it is, returns, throws) to:\n${missing.join("\n")}`).toEqual([]);
  });
});
