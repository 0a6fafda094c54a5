// Runs the shared corpus (verifier/tests/corpus/) through the browser verifier in Node and
// prints, for each case, the failures it named ([] when the bundle verifies) and what it said
// of completeness (SPEC §7: "proven", "absent" or "failed"). The Python test
// tests/vehicles/browser/test_corpus.py compares them with the manifest.
const fs = require("node:fs");
const path = require("node:path");
const { loadVerifier } = require("./load-verifier.js");

const core = loadVerifier();
const corpus = path.resolve(__dirname, "..", "..", "verifier", "tests", "corpus");
const manifest = JSON.parse(fs.readFileSync(path.join(corpus, "manifest.json"), "utf8"));

function outcomeOf(text, vin) {
  try {
    const outcome = core.verifyBundle(JSON.parse(text), { vin: vin, logKey: manifest.log_key });
    return {
      failures: core.failuresOf(outcome).map((failure) => failure.code),
      completeness: outcome.completeness.status,
    };
  } catch (error) {
    if (!(error instanceof core.VerificationFailure)) throw error;
    return { failures: [error.code], completeness: null };
  }
}

const results = {};
for (const testCase of manifest.cases) {
  const text = fs.readFileSync(path.join(corpus, testCase.file), "utf8");
  results[testCase.name] = outcomeOf(text, testCase.vin);
}
process.stdout.write(JSON.stringify(results));
