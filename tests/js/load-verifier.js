// Loads the browser verifier's scripts into Node exactly as the report page loads them (classic
// scripts sharing globals), so tests run the very files the browser runs.
const fs = require("node:fs");
const path = require("node:path");
const vm = require("node:vm");

const ROOT = path.resolve(__dirname, "..", "..");
const SCRIPTS = [
  "static/vendor/noble.js",
  "static/js/protocol.js",
  "static/js/verify-core.js",
  "static/js/vin-index.js",
];

function loadVerifier() {
  for (const script of SCRIPTS) {
    const file = path.join(ROOT, script);
    vm.runInThisContext(fs.readFileSync(file, "utf8"), { filename: file });
  }
  return globalThis.carhistoryVerifyCore;
}

module.exports = { loadVerifier };
