// ESLint (flat config) for the browser code: static/js is served as classic scripts, each an
// IIFE that shares globals through `globalThis`; browser/ is esbuild's input (an ES module).
const js = require("@eslint/js");
const globals = require("globals");

module.exports = [
  { ignores: ["static/vendor/**", "node_modules/**", ".venv/**", "var/**"] },
  js.configs.recommended,
  {
    files: ["static/js/**/*.js"],
    languageOptions: {
      ecmaVersion: 2020,
      sourceType: "script",
      globals: { ...globals.browser, Chart: "readonly" },
    },
    rules: {
      "no-unused-vars": ["error", { args: "none", caughtErrors: "none" }],
      eqeqeq: "error",
      "no-implicit-globals": "error",
    },
  },
  {
    files: ["browser/**/*.js"],
    languageOptions: { ecmaVersion: 2020, sourceType: "module" },
  },
  {
    files: ["eslint.config.js", "tests/js/**/*.js"],
    languageOptions: { ecmaVersion: 2022, sourceType: "commonjs", globals: globals.node },
  },
];
