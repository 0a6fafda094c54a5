// Checks a vehicle's evidence bundle (SPEC.md §6) in the buyer's own browser, trusting nothing the
// server says about it: the checkpoint's Ed25519 signature by the log key (C2SP signed-note), every
// entry's leaf hash over its RFC 8785 bytes, every inclusion proof against the checkpoint's root
// (RFC 9162 §2.1.3.2), and every source signature against a key proven earlier in the log.
// These are the checks of ledger/verify.py (`carhistory-verify`), written again for the browser.
(function () {
  "use strict";

  var encoder = new TextEncoder();
  var LEAF_PREFIX = new Uint8Array([0x00]);
  var NODE_PREFIX = new Uint8Array([0x01]);
  var ED25519_ALGORITHM = 0x01; // signed-note verifier keys: 0x01 || 32-byte public key
  var HASH_LENGTH = 32;
  var SIGNATURE_LENGTH = 64;
  var KEY_ID_LENGTH = 4;
  // The statement a source signs is its entry without the fields the server fills in (SPEC §2).
  var UNSIGNED_FIELDS = ["source_sig", "private_commitment", "submitted_at", "nonce"];
  // RFC 8032 §7.1, test 1: a known-good public key, to ask whether this browser has Ed25519.
  var PROBE_PUBLIC_KEY = "d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a";

  class VerificationFailure extends Error {
    constructor(code) {
      super(code);
      this.code = code;
    }
  }

  function fail(code) {
    throw new VerificationFailure(code);
  }

  // --- RFC 8785: the JSON Canonicalization Scheme ------------------------------------------

  // §3.2.2.2: only these controls have short escapes; the rest of U+0000..U+001F are \u00hh.
  var SHORT_ESCAPES = { 0x08: "\\b", 0x09: "\\t", 0x0a: "\\n", 0x0c: "\\f", 0x0d: "\\r" };

  function canonicalJson(value) {
    if (value === null) return "null";
    if (value === true) return "true";
    if (value === false) return "false";
    if (typeof value === "number") return canonicalNumber(value);
    if (typeof value === "string") return canonicalString(value);
    if (Array.isArray(value)) return "[" + value.map(canonicalJson).join(",") + "]";
    if (typeof value === "object") {
      var keys = Object.keys(value).sort(compareCodeUnits);
      var members = keys.map(function (key) {
        return canonicalString(key) + ":" + canonicalJson(value[key]);
      });
      return "{" + members.join(",") + "}";
    }
    return fail("entry_malformed");
  }

  // §3.2.2.3: ECMAScript's Number-to-String, which is what String() does (and -0 becomes "0").
  // NaN and the infinities have no JSON form.
  function canonicalNumber(number) {
    if (!Number.isFinite(number)) fail("entry_malformed");
    return String(number);
  }

  // §3.2.2.2: escape only '"', '\' and controls; everything else is written as is (UTF-8 later).
  // A lone surrogate cannot be encoded as UTF-8, so such a string is refused (I-JSON, §3.1).
  function canonicalString(text) {
    var out = '"';
    for (var i = 0; i < text.length; i++) {
      var unit = text.charCodeAt(i);
      if (unit >= 0xd800 && unit <= 0xdbff) {
        var next = text.charCodeAt(i + 1);
        if (!(next >= 0xdc00 && next <= 0xdfff)) fail("entry_malformed");
        out += text[i] + text[i + 1];
        i++;
      } else if (unit >= 0xdc00 && unit <= 0xdfff) {
        fail("entry_malformed");
      } else if (unit === 0x22) {
        out += '\\"';
      } else if (unit === 0x5c) {
        out += "\\\\";
      } else if (unit < 0x20) {
        out += SHORT_ESCAPES[unit] || "\\u" + unit.toString(16).padStart(4, "0");
      } else {
        out += text[i];
      }
    }
    return out + '"';
  }

  // §3.2.3: property names are sorted by their UTF-16 code units, compared as unsigned numbers.
  function compareCodeUnits(a, b) {
    var length = Math.min(a.length, b.length);
    for (var i = 0; i < length; i++) {
      var difference = a.charCodeAt(i) - b.charCodeAt(i);
      if (difference !== 0) return difference;
    }
    return a.length - b.length;
  }

  function canonicalBytes(value) {
    return encoder.encode(canonicalJson(value));
  }

  // --- bytes, base64, hashes ---------------------------------------------------------------

  var BASE64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;

  // Standard base64 with padding, strictly: atob alone would accept spaces and missing padding.
  function fromBase64(text, expectedLength, failureCode) {
    if (typeof text !== "string" || !BASE64.test(text)) fail(failureCode);
    var binary = atob(text);
    var bytes = new Uint8Array(binary.length);
    for (var i = 0; i < binary.length; i++) bytes[i] = binary.charCodeAt(i);
    if (expectedLength !== null && bytes.length !== expectedLength) fail(failureCode);
    return bytes;
  }

  function fromHex(hex) {
    var bytes = new Uint8Array(hex.length / 2);
    for (var i = 0; i < bytes.length; i++) bytes[i] = parseInt(hex.substr(i * 2, 2), 16);
    return bytes;
  }

  function toHex(bytes) {
    return Array.from(bytes, function (byte) {
      return byte.toString(16).padStart(2, "0");
    }).join("");
  }

  function concatBytes(parts) {
    var total = parts.reduce(function (sum, part) { return sum + part.length; }, 0);
    var out = new Uint8Array(total);
    var offset = 0;
    parts.forEach(function (part) {
      out.set(part, offset);
      offset += part.length;
    });
    return out;
  }

  function equalBytes(a, b) {
    if (a.length !== b.length) return false;
    for (var i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
    return true;
  }

  async function sha256() {
    var digest = await crypto.subtle.digest("SHA-256", concatBytes(Array.from(arguments)));
    return new Uint8Array(digest);
  }

  // --- C2SP signed-note keys and checkpoints ------------------------------------------------

  async function supportsEd25519() {
    if (!window.crypto || !crypto.subtle) return false;
    try {
      await crypto.subtle.importKey("raw", fromHex(PROBE_PUBLIC_KEY), { name: "Ed25519" }, false, [
        "verify",
      ]);
      return true;
    } catch (error) {
      return false;
    }
  }

  // A verifier key is `name+hex(key id)+base64(0x01 || public key)`; the key id is the first four
  // bytes of SHA-256(name || "\n" || 0x01 || public key), so the line cannot lie about its name.
  async function parseVerifierKey(line, failureCode) {
    // The name holds no "+" and the key id is hex, but base64 may hold "+": split twice only.
    var match = typeof line === "string" && /^([^+\s]+)\+([0-9a-f]{8})\+(\S+)$/.exec(line.trim());
    if (!match) fail(failureCode);
    var parts = match.slice(1);
    var keyData = fromBase64(parts[2], 1 + HASH_LENGTH, failureCode);
    if (keyData[0] !== ED25519_ALGORITHM) fail(failureCode);
    var name = encoder.encode(parts[0]);
    var keyId = (await sha256(name, new Uint8Array([0x0a]), keyData)).slice(0, KEY_ID_LENGTH);
    if (toHex(keyId) !== parts[1]) fail(failureCode);
    var publicKey;
    try {
      publicKey = await crypto.subtle.importKey(
        "raw", keyData.slice(1), { name: "Ed25519" }, false, ["verify"]
      );
    } catch (error) {
      fail(failureCode);
    }
    return { line: line.trim(), name: parts[0], keyId: keyId, publicKey: publicKey };
  }

  async function signatureHolds(key, signature, message) {
    return crypto.subtle.verify({ name: "Ed25519" }, key.publicKey, signature, message);
  }

  // C2SP signed-note: the text, a blank line, then `— <name> <base64(key id || signature)>` lines.
  // The signature covers the text up to and including its last newline.
  function parseSignedNote(note) {
    if (typeof note !== "string" || !note.endsWith("\n")) fail("checkpoint_malformed");
    var split = note.lastIndexOf("\n\n");
    if (split < 0) fail("checkpoint_malformed");
    var body = note.slice(0, split + 1);
    var signatures = note
      .slice(split + 2, -1)
      .split("\n")
      .map(function (line) {
        var match = /^\u2014 (\S+) (\S+)$/.exec(line);
        if (!match) fail("checkpoint_malformed");
        var blob = fromBase64(match[2], null, "checkpoint_malformed");
        if (blob.length < KEY_ID_LENGTH) fail("checkpoint_malformed");
        return {
          name: match[1],
          keyId: blob.slice(0, KEY_ID_LENGTH),
          signature: blob.slice(KEY_ID_LENGTH),
        };
      });
    return { body: body, signatures: signatures };
  }

  // C2SP tlog-checkpoint: origin, decimal tree size, base64 root hash, then optional extensions.
  function parseCheckpointBody(body) {
    var lines = body.split("\n");
    if (lines.length < 4 || !lines[0] || !/^(0|[1-9][0-9]*)$/.test(lines[1])) {
      fail("checkpoint_malformed");
    }
    var treeSize = Number(lines[1]);
    if (!Number.isSafeInteger(treeSize)) fail("checkpoint_malformed");
    return {
      origin: lines[0],
      treeSize: treeSize,
      rootHash: fromBase64(lines[2], HASH_LENGTH, "checkpoint_malformed"),
    };
  }

  async function verifyCheckpoint(note, logKey) {
    var parsed = parseSignedNote(note);
    var checkpoint = parseCheckpointBody(parsed.body);
    var byLogKey = parsed.signatures.filter(function (signature) {
      return signature.name === logKey.name && equalBytes(signature.keyId, logKey.keyId);
    });
    if (!byLogKey.length) fail("checkpoint_unsigned");
    var signature = byLogKey[0].signature;
    if (signature.length !== SIGNATURE_LENGTH) fail("checkpoint_signature");
    if (!(await signatureHolds(logKey, signature, encoder.encode(parsed.body)))) {
      fail("checkpoint_signature");
    }
    return checkpoint;
  }

  // --- RFC 9162 §2.1.3.2: verifying an inclusion proof ---------------------------------------

  async function rootFromInclusionProof(index, treeSize, leafHash, proof) {
    if (index >= treeSize) fail("beyond_checkpoint");
    var fn = index;
    var sn = treeSize - 1;
    var r = leafHash;
    for (var i = 0; i < proof.length; i++) {
      if (sn === 0) fail("inclusion_proof");
      if (fn % 2 === 1 || fn === sn) {
        r = await sha256(NODE_PREFIX, proof[i], r);
        while (fn % 2 === 0 && fn !== 0) {
          fn = Math.floor(fn / 2);
          sn = Math.floor(sn / 2);
        }
      } else {
        r = await sha256(NODE_PREFIX, r, proof[i]);
      }
      fn = Math.floor(fn / 2);
      sn = Math.floor(sn / 2);
    }
    if (sn !== 0) fail("inclusion_proof");
    return r;
  }

  // --- entries ------------------------------------------------------------------------------

  function isPlainObject(value) {
    return value !== null && typeof value === "object" && !Array.isArray(value);
  }

  function statementOf(entry) {
    // No prototype, so that a field named "__proto__" is copied as a field like any other.
    var statement = Object.create(null);
    Object.keys(entry).forEach(function (key) {
      if (UNSIGNED_FIELDS.indexOf(key) < 0) statement[key] = entry[key];
    });
    return statement;
  }

  // The entry is in the log: its leaf hash, walked up its inclusion proof, gives the root hash
  // the log signed. Returns how it was signed.
  async function verifyItem(item, context) {
    if (!isPlainObject(item) || !Number.isSafeInteger(item.index) || item.index < 0) {
      fail("entry_malformed");
    }
    if (!isPlainObject(item.entry) || !Array.isArray(item.inclusion_proof)) fail("entry_malformed");
    var proof = item.inclusion_proof.map(function (hash) {
      return fromBase64(hash, HASH_LENGTH, "inclusion_proof");
    });
    var leafHash = await sha256(LEAF_PREFIX, canonicalBytes(item.entry));
    var treeSize = context.checkpoint.treeSize;
    var root = await rootFromInclusionProof(item.index, treeSize, leafHash, proof);
    if (!equalBytes(root, context.checkpoint.rootHash)) fail("inclusion_proof");
    return verifySourceSignature(item.index, item.entry, context);
  }

  // The source, not the platform, said it: its signature over the statement verifies with a key
  // that a source_key entry at a smaller index proved to be that source's. The log key needs no
  // such entry; an entry it signs is the platform's own, or signed on a keyless source's behalf.
  async function verifySourceSignature(index, entry, context) {
    if (typeof entry.source !== "string" || typeof entry.source_key !== "string") {
      fail("entry_malformed");
    }
    var signedByLog = entry.source_key === context.logKey.line;
    var key = context.logKey;
    if (!signedByLog) {
      var proven = context.sourceKeys.get(entry.source_key);
      if (!proven || proven.index >= index || proven.source !== entry.source) {
        fail("source_key_unproven");
      }
      key = proven.key;
    }
    var signature = fromBase64(entry.source_sig, SIGNATURE_LENGTH, "source_signature");
    if (!(await signatureHolds(key, signature, canonicalBytes(statementOf(entry))))) {
      fail("source_signature");
    }
    if (!signedByLog) return "verified";
    return entry.source === "platform" ? "platform_entry" : "platform_signed";
  }

  // Source keys are platform entries too; each one that verifies becomes usable after its index.
  async function provenSourceKeys(items, context) {
    var proven = new Map();
    var sorted = (Array.isArray(items) ? items : []).slice().sort(function (a, b) {
      return (a && a.index) - (b && b.index);
    });
    for (var i = 0; i < sorted.length; i++) {
      var item = sorted[i];
      try {
        var how = await verifyItem(item, context);
        var facts = item.entry.facts;
        if (how !== "platform_entry" || item.entry.type !== "source_key" || !isPlainObject(facts)) {
          continue;
        }
        if (typeof facts.key !== "string" || typeof facts.source !== "string") continue;
        if (proven.has(facts.key)) continue;
        var key = await parseVerifierKey(facts.key, "entry_malformed");
        proven.set(facts.key, { index: item.index, source: facts.source, key: key });
      } catch (error) {
        if (!(error instanceof VerificationFailure)) throw error;
      }
    }
    return proven;
  }

  // Verifies a whole bundle; a failure of the bundle itself (key, checkpoint) throws, a failure
  // of one entry is recorded against its index.
  async function verifyBundle(bundle, vin) {
    if (!isPlainObject(bundle) || bundle.format !== "carhistory-evidence/v1") {
      fail("bundle_malformed");
    }
    if (bundle.vin !== vin) fail("wrong_vehicle");
    if (!Array.isArray(bundle.entries)) fail("bundle_malformed");
    var logKey = await parseVerifierKey(bundle.log_key, "log_key_malformed");
    var checkpoint = await verifyCheckpoint(bundle.checkpoint, logKey);
    var context = { logKey: logKey, checkpoint: checkpoint, sourceKeys: new Map() };
    context.sourceKeys = await provenSourceKeys(bundle.source_keys, context);

    var results = new Map();
    for (var i = 0; i < bundle.entries.length; i++) {
      var item = bundle.entries[i];
      var index = isPlainObject(item) ? item.index : undefined;
      var result;
      try {
        result = { status: await verifyItem(item, context), entry: item.entry };
        if (item.entry.vin !== vin) fail("entry_vin");
      } catch (error) {
        if (!(error instanceof VerificationFailure)) throw error;
        result = { status: "failed", code: error.code };
      }
      // Two items claiming one index cannot both be that entry: refuse the line.
      if (results.has(index)) result = { status: "failed", code: "bundle_malformed" };
      results.set(index, result);
    }
    return { logKey: logKey, checkpoint: checkpoint, results: results };
  }

  // --- the page -----------------------------------------------------------------------------

  function format(template, values) {
    return template.replace(/%\((\w+)\)s/g, function (whole, name) {
      return String(values[name]);
    });
  }

  // The line on the page must show what the log holds, or the proof would vouch for other words.
  function pageAgrees(badge, entry) {
    var logged = entry.odometer_km;
    var odometer = logged === undefined || logged === null ? "" : String(logged);
    return (
      badge.getAttribute("data-entry-type") === entry.type &&
      badge.getAttribute("data-entry-occurred-at") === (entry.occurred_at || "") &&
      badge.getAttribute("data-entry-odometer-km") === odometer
    );
  }

  function showBadge(badge, status, text, reason) {
    badge.setAttribute("data-verify-status", status);
    badge.classList.remove("ok", "warn", "bad");
    badge.classList.add(status === "failed" ? "bad" : status === "unchecked" ? "warn" : "ok");
    badge.textContent = reason ? text + ": " + reason : text;
    badge.title = reason || text;
  }

  function showSummary(element, state, text) {
    element.setAttribute("data-verify-state", state);
    element.className = "verify-summary " + state;
    element.textContent = text;
  }

  // A busy server (429, 5xx) or a dropped connection is tried again, waiting longer each time
  // (1, 2, 4, 8 s, or the server's Retry-After up to 30 s); other answers are final.
  var RETRY_DELAYS_MS = [1000, 2000, 4000, 8000];
  var MAX_RETRY_AFTER_MS = 30000;

  function retryable(status) {
    return status === 429 || status >= 500;
  }

  function sleep(milliseconds) {
    return new Promise(function (resolve) { setTimeout(resolve, milliseconds); });
  }

  async function fetchOnce(url) {
    try {
      var response = await fetch(url, { headers: { Accept: "application/json" }, cache: "no-store" });
      return { response: response, status: String(response.status) };
    } catch (error) {
      return { response: null, status: "network" };
    }
  }

  async function loadBundle(url, onRetry) {
    for (var attempt = 0; ; attempt++) {
      var result = await fetchOnce(url);
      var response = result.response;
      if (response && response.ok) {
        try {
          return { bundle: await response.json() };
        } catch (error) {
          return { bundle: null };
        }
      }
      if ((response && !retryable(response.status)) || attempt >= RETRY_DELAYS_MS.length) {
        return { error: result.status };
      }
      var delay = RETRY_DELAYS_MS[attempt];
      var retryAfter = response ? Number(response.headers.get("Retry-After")) : NaN;
      if (retryAfter > 0) delay = Math.min(retryAfter * 1000, MAX_RETRY_AFTER_MS);
      onRetry(result.status);
      await sleep(delay);
    }
  }

  async function run(report) {
    var messages = JSON.parse(document.getElementById("verify-messages").textContent);
    var summary = report.querySelector("[data-verify-summary]");
    var badges = Array.from(report.querySelectorAll(".badge[data-entry-index]"));
    function markAll(status, text, reason) {
      badges.forEach(function (badge) { showBadge(badge, status, text, reason); });
    }

    if (!(await supportsEd25519())) {
      showSummary(summary, "unsupported", messages.unsupported);
      markAll("unchecked", messages.not_checked);
      return;
    }
    var loaded = await loadBundle(report.getAttribute("data-evidence-url"), function (status) {
      showSummary(summary, "checking", format(messages.retrying, { status: status }));
    });
    if (loaded.error) {
      showSummary(summary, "failed", format(messages.fetch_failed, { status: loaded.error }));
      markAll("unchecked", messages.not_checked);
      return;
    }
    var outcome;
    try {
      outcome = await verifyBundle(loaded.bundle, report.getAttribute("data-vin"));
    } catch (error) {
      if (!(error instanceof VerificationFailure)) throw error;
      var reason = messages.reasons[error.code] || error.code;
      showSummary(summary, "failed", format(messages.bundle_failed, { reason: reason }));
      markAll("failed", messages.failed, reason);
      return;
    }

    var verified = 0;
    var failedIndexes = [];
    badges.forEach(function (badge) {
      var index = Number(badge.getAttribute("data-entry-index"));
      var result = outcome.results.get(index) || { status: "failed", code: "not_in_bundle" };
      if (result.status !== "failed" && !pageAgrees(badge, result.entry)) {
        result = { status: "failed", code: "page_mismatch" };
      }
      if (result.status === "failed") {
        failedIndexes.push(index);
        showBadge(badge, "failed", messages.failed, messages.reasons[result.code] || result.code);
      } else {
        verified++;
        showBadge(badge, result.status, messages[result.status] || messages.verified);
      }
    });

    var values = {
      verified: verified,
      total: badges.length,
      failed: failedIndexes.length,
      size: outcome.checkpoint.treeSize,
    };
    var template = failedIndexes.length ? messages.summary_failed : messages.summary_ok;
    showSummary(summary, failedIndexes.length ? "failed" : "verified", format(template, values));
    summary.setAttribute("data-failed-indexes", failedIndexes.join(" "));
    var keyElement = report.querySelector("[data-log-key]");
    if (keyElement) {
      keyElement.textContent = outcome.logKey.line;
      keyElement.title = outcome.logKey.name + " · " + toHex(outcome.logKey.keyId);
    }
  }

  window.carhistoryVerify = {
    canonicalJson: canonicalJson,
    verifyBundle: verifyBundle,
    rootFromInclusionProof: rootFromInclusionProof,
  };

  document.addEventListener("DOMContentLoaded", function () {
    var report = document.querySelector("[data-verify-report]");
    if (report) run(report);
  });
})();
