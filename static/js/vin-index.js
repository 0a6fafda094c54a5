// The VIN index check of SPEC §7 in the browser: the bundle's entries are all of the VIN's
// entries among the first N − 1 of the log. It is the same check as the Python verifier's
// (carhistory_verifier.vin_index and .vrf), on @noble/curves and @noble/hashes.
//
// It registers itself with verify-core as a whole-bundle check. It never throws for a proof
// that fails: the entries stay verified line by line, and only `outcome.completeness` says
// whether completeness is proven ({status: "proven", covered, records}), not given by the
// bundle ({status: "absent"}) or refuted ({status: "failed", code, reason}).
(function (root) {
  "use strict";

  var core = root.carhistoryVerifyCore;
  var protocol = root.carhistoryProtocol;
  var noble = root.carhistoryNoble;
  var Point = noble.ed25519.Point;
  var GROUP_ORDER = Point.Fn.ORDER;
  var SUITE = 3; // RFC 9381 §5.5: ECVRF-EDWARDS25519-SHA512-TAI
  var encoder = new TextEncoder();

  function VinIndexFailure(reason) {
    this.reason = reason;
  }

  function refuse(reason) {
    throw new VinIndexFailure(reason);
  }

  function concat(parts) {
    var total = parts.reduce(function (sum, part) { return sum + part.length; }, 0);
    var out = new Uint8Array(total);
    var offset = 0;
    parts.forEach(function (part) {
      out.set(part, offset);
      offset += part.length;
    });
    return out;
  }

  function sha512() {
    return noble.sha512(concat(Array.from(arguments)));
  }

  function littleEndian(bytes) {
    var value = 0n;
    for (var i = bytes.length - 1; i >= 0; i--) value = (value << 8n) | BigInt(bytes[i]);
    return value;
  }

  function decode(text, length, where) {
    try {
      return core.fromBase64(text, length, core.FAILURE.vin_index);
    } catch (error) {
      refuse(where + " must be base64 of " + length + " bytes");
    }
  }

  // RFC 8032 §5.1.3 decoding (strict: canonical y, no x = 0 with the sign bit), or null.
  function pointOrNull(bytes) {
    try {
      return Point.fromBytes(bytes, false);
    } catch (error) {
      return null;
    }
  }

  // Like the Python verifier: keys and Gamma must lie in the prime-order subgroup (an honest
  // prover always produces such points).
  function primeOrderPoint(bytes, what) {
    var point = pointOrNull(bytes);
    if (point === null || point.isSmallOrder() || !point.isTorsionFree()) {
      refuse(what + " is not a valid edwards25519 point of prime order");
    }
    return point;
  }

  // RFC 9381 §5.4.1.1, try and increment.
  function encodeToCurve(publicKey, alpha) {
    for (var counter = 0; counter < 256; counter++) {
      var candidate = sha512(
        new Uint8Array([SUITE, 1]), publicKey, alpha, new Uint8Array([counter, 0])
      ).slice(0, 32);
      var point = pointOrNull(candidate);
      if (point !== null) return point.clearCofactor();
    }
    refuse("try-and-increment found no curve point");
  }

  // RFC 9381 §5.3: returns beta, the 64-byte VRF output, or refuses.
  function vrfVerify(publicKeyBytes, alpha, pi) {
    var publicKey = primeOrderPoint(publicKeyBytes, "the VRF public key");
    var gamma = primeOrderPoint(pi.slice(0, 32), "the proof's Gamma");
    var challenge = pi.slice(32, 48);
    var c = littleEndian(challenge);
    var s = littleEndian(pi.slice(48, 80));
    if (s >= GROUP_ORDER) refuse("the proof's s is not reduced modulo the group order");
    var h = encodeToCurve(publicKeyBytes, alpha);
    var u = Point.BASE.multiplyUnsafe(s).subtract(publicKey.multiplyUnsafe(c));
    var v = h.multiplyUnsafe(s).subtract(gamma.multiplyUnsafe(c));
    var expected = sha512(
      new Uint8Array([SUITE, 2]),
      publicKeyBytes,
      h.toBytes(),
      pi.slice(0, 32),
      u.toBytes(),
      v.toBytes(),
      new Uint8Array([0])
    ).slice(0, 16);
    if (core.toHex(expected) !== core.toHex(challenge)) refuse("the VRF proof does not verify");
    return sha512(new Uint8Array([SUITE, 3]), gamma.clearCofactor().toBytes(), new Uint8Array([0]));
  }

  function bit(key, depth) {
    return (key[depth >> 3] >> (7 - (depth & 7))) & 1;
  }

  function indexHash(indexes) {
    var bytes = new Uint8Array(8 * indexes.length);
    var view = new DataView(bytes.buffer);
    indexes.forEach(function (index, position) {
      view.setBigUint64(8 * position, BigInt(index));
    });
    return core.sha256(bytes);
  }

  function leafHash(key, hashOfIndexes) {
    return core.sha256(new Uint8Array([0]), key, hashOfIndexes);
  }

  function samePrefix(a, b, depth) {
    for (var level = 0; level < depth; level++) {
      if (bit(a, level) !== bit(b, level)) return false;
    }
    return true;
  }

  // SPEC §7 steps 3–5.
  function checkPath(key, indexes, siblings, leaf, root) {
    var depth = siblings.length;
    if (depth > 256) refuse("a 256-bit key has at most 256 siblings");
    var node;
    if (indexes.length) {
      for (var i = 1; i < indexes.length; i++) {
        if (!(indexes[i] > indexes[i - 1])) refuse("entry indexes must be strictly increasing");
      }
      if (leaf !== null) refuse("a proof of a key's entries carries no other leaf");
      node = leafHash(key, indexHash(indexes));
    } else if (leaf === null) {
      node = new Uint8Array(32);
    } else {
      if (core.toHex(leaf.key) === core.toHex(key)) refuse("an absence proof's leaf is the key itself");
      if (!samePrefix(leaf.key, key, depth)) {
        refuse("an absence proof's leaf does not share the path's prefix");
      }
      node = leafHash(leaf.key, leaf.indexHash);
    }
    for (var level = depth - 1; level >= 0; level--) {
      node = bit(key, level) ? core.nodeHash(siblings[level], node) : core.nodeHash(node, siblings[level]);
    }
    if (core.toHex(node) !== core.toHex(root)) {
      refuse(indexes.length
        ? "the VIN index does not list exactly these entries for this VIN"
        : "the VIN index does not prove that this VIN has no entries");
    }
  }

  function checkSection(bundle, outcome) {
    var section = bundle.vin_index;
    if (!section || typeof section !== "object") refuse("the bundle's vin_index is not an object");
    var entry;
    try {
      // Step 1: in the log, written and signed by the log, the checkpoint's last entry.
      var proven = core.proveInclusion(section, outcome.checkpoint);
      entry = proven.entry;
      if (
        entry.type !== protocol.vin_index ||
        entry.source !== protocol.platform_source ||
        entry.source_key !== outcome.logKey.line
      ) {
        refuse("the vin_index entry is not the platform's");
      }
      core.checkSignature(proven, outcome.logKey);
    } catch (error) {
      if (!(error instanceof core.VerificationFailure)) throw error;
      refuse("the vin_index entry does not verify (" + error.code + ")");
    }
    if (section.index !== outcome.checkpoint.treeSize - 1) {
      refuse("the vin_index entry is not the checkpoint's last");
    }
    var facts = entry.facts || {};
    if (facts.size !== section.index) refuse("facts.size is not the entry's own index");
    var root = decode(facts.root, 32, "facts.root");
    var vrfKey = decode(facts.vrf_key, 32, "facts.vrf_key");
    var pi = decode(section.vrf_proof, 80, "vrf_proof");
    if (!Array.isArray(section.siblings)) refuse("siblings must be a list");
    var siblings = section.siblings.map(function (sibling) { return decode(sibling, 32, "siblings"); });
    var leaf = null;
    if (section.leaf !== null && section.leaf !== undefined) {
      leaf = {
        key: decode(section.leaf.key, 32, "leaf.key"),
        indexHash: decode(section.leaf.index_hash, 32, "leaf.index_hash"),
      };
    }
    var key = vrfVerify(vrfKey, encoder.encode(outcome.vin), pi).slice(0, 32);
    // Every entry of the bundle counts, verified or not: a line that failed is still claimed.
    var indexes = bundle.entries.map(function (item) { return item && item.index; });
    checkPath(key, indexes, siblings, leaf, root);
    return { status: "proven", covered: facts.size, records: indexes.length };
  }

  function checkVinIndex(bundle, outcome) {
    if (bundle.vin_index === undefined || bundle.vin_index === null) {
      outcome.completeness = { status: "absent" };
      return;
    }
    try {
      outcome.completeness = checkSection(bundle, outcome);
    } catch (error) {
      if (!(error instanceof VinIndexFailure)) throw error;
      outcome.completeness = { status: "failed", code: core.FAILURE.vin_index, reason: error.reason };
    }
  }

  core.addCheck(checkVinIndex);
  root.carhistoryVinIndex = Object.freeze({ vrfVerify: vrfVerify, checkVinIndex: checkVinIndex });
})(globalThis);
