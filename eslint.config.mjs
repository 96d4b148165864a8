// ESLint 9 flat config (`npm run lint`): eslint's and typescript-eslint's recommended rules, syntax-only (no type
// information, so linting takes seconds). Exceptions, each with why the code legitimately does what the rule flags:
// - no-require-imports: optional and native backends (@tensorflow/tfjs-node, webgpu, tfjs-backend-wasm) are loaded
//   with require() inside try/catch, at run time, after checks; a static import would fail where they are absent,
//   and the WebGPU backend must be imported only after navigator.gpu exists. CommonJS scripts in bench/ require too.
// - no-undef (TypeScript files): tsc already checks names, with the right globals (typescript-eslint's advice).
// - no-unused-vars: a leading underscore marks a deliberately unused name, and `const { a: _a, ...rest } = x` is how
//   the code drops fields from an object.
// - no-empty: an empty `catch {}` is a best-effort cleanup (closing watchers, removing temp files).
// - no-unused-expressions: src/data/readers.ts (CSV/JSON scanners) and bench/read-data.js write paired state
//   updates as comma expressions (`(depth = t), (want = true)`); off until they are written as blocks.
// - no-explicit-any in tests/: tests read untyped JSON written by Python references and reach into browser globals.
import js from "@eslint/js";
import tseslint from "typescript-eslint";

const nodeGlobals = Object.fromEntries(
  [
    "require",
    "module",
    "exports",
    "__dirname",
    "__filename",
    "process",
    "console",
    "Buffer",
    "globalThis",
    "setTimeout",
    "clearTimeout",
    "setInterval",
    "clearInterval",
    "setImmediate",
    "URL",
    "TextEncoder",
    "TextDecoder",
    "performance",
    "fetch",
    "AbortController",
  ].map((name) => [name, "readonly"]),
);

export default tseslint.config(
  { ignores: ["dist/", "node_modules/", "runs/", "tmp/", ".venv/", "**/*.min.js", "tests/fixtures/"] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    languageOptions: { ecmaVersion: 2022, sourceType: "module", globals: nodeGlobals },
    linterOptions: { reportUnusedDisableDirectives: "error" },
    rules: {
      "@typescript-eslint/no-require-imports": "off",
      "@typescript-eslint/no-unused-vars": [
        "error",
        { argsIgnorePattern: "^_", varsIgnorePattern: "^_", caughtErrors: "none", ignoreRestSiblings: true, destructuredArrayIgnorePattern: "^_" },
      ],
      "no-empty": ["error", { allowEmptyCatch: true }],
      "@typescript-eslint/no-unused-expressions": "off",
    },
  },
  { files: ["**/*.ts", "**/*.mts"], rules: { "no-undef": "off" } },
  // Scripts that drive a browser (playwright's page.evaluate callbacks run in the page).
  { files: ["scripts/**/*.mjs"], languageOptions: { globals: { window: "readonly", document: "readonly", getComputedStyle: "readonly" } } },
  { files: ["tests/**"], rules: { "@typescript-eslint/no-explicit-any": "off" } },
);
