// The audited primitives the browser verifier uses, bundled by `make` (esbuild) into
// static/vendor/noble.js as the global `carhistoryNoble`. Pure JavaScript, so verification
// works where WebCrypto has no Ed25519 (older Safari, Android WebViews, in-app browsers).
export { ed25519 } from "@noble/curves/ed25519.js";
export { sha256, sha512 } from "@noble/hashes/sha2.js";
