/**
 * dependency-cruiser rules checked by test/unit/importCycles.test.ts: no import circle among our
 * TypeScript modules (type-only imports count: a circle of types is still two modules that cannot be
 * understood, or moved, apart).
 */
module.exports = {
  forbidden: [
    {
      name: "no-circular",
      severity: "error",
      comment: "a module must not import, through any chain, a module that imports it",
      from: { path: "^(components|cli|bench|tools|test)/" },
      to: { circular: true },
    },
  ],
  options: {
    doNotFollow: { path: "node_modules" },
    exclude: { path: "^(node_modules|dist|bin)/" },
    tsPreCompilationDeps: true,
    tsConfig: { fileName: "tsconfig.json" },
  },
};
