// ESLint (flat config) with typescript-eslint's recommended rules, run by `npm test`. What is relaxed
// below, and why; each could be turned on with edits across the files named.
import eslint from "@eslint/js";
import tseslint from "typescript-eslint";

export default tseslint.config(
  { ignores: ["node_modules/", "dist/", "bin/", ".tmp/"] },
  eslint.configs.recommended,
  tseslint.configs.recommended,
  {
    rules: {
      // The schema and the leak scanner reject control characters on purpose: their regexes name them.
      "no-control-regex": "off",
      // `_` marks what is left out on purpose (a destructured field dropped, an unused callback argument).
      "@typescript-eslint/no-unused-vars": [
        "error",
        { argsIgnorePattern: "^_", varsIgnorePattern: "^_", destructuredArrayIgnorePattern: "^_", ignoreRestSiblings: true },
      ],
    },
  },
  {
    // Tests and benchmarks read into recorded resource inputs and generated stack objects, untyped by
    // nature (32 places in 16 files); the program and the CLIs have no `any`, and keep none.
    files: ["test/**/*.ts", "bench/**/*.ts"],
    rules: { "@typescript-eslint/no-explicit-any": "off" },
  },
  {
    // dependency-cruiser reads its configuration as a CommonJS module.
    files: ["**/*.cjs"],
    languageOptions: { sourceType: "commonjs", globals: { module: "writable", require: "readonly" } },
  },
  {
    // The build tool and this file run as plain Node ES modules.
    files: ["**/*.mjs"],
    languageOptions: { globals: { process: "readonly", console: "readonly" } },
  },
);
