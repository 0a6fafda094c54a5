// Prints the browser's protocol words as JSON, for the test that compares them with Python's.
const { loadVerifier } = require("./load-verifier.js");

loadVerifier();
process.stdout.write(JSON.stringify(globalThis.carhistoryProtocol));
