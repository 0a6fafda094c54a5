// Witness cosignatures on the checkpoint a report was verified against (SPEC §8, C2SP
// tlog-cosignature/v1), checked in the buyer's browser with the same @noble/curves primitives
// as the rest of the report (through verify-core.js), and said in words: who cosigned and how
// long ago, or a warning when no witness has cosigned recently. Load after verify-core.js;
// verify.js calls `carhistoryWitnesses.show` once the bundle has verified.
(function (root) {
  "use strict";

  var COSIGNATURE_KEY_TYPE = 0x04; // tlog-cosignature Ed25519 verifier keys: 0x04 || public key
  var KEY_LENGTH = 32;
  var KEY_ID_LENGTH = 4;
  var TIMESTAMP_LENGTH = 8;
  var SIGNATURE_LENGTH = 64;
  var NOT_A_KEY = "bundle_malformed"; // fromBase64 wants a failure name; caught below
  var encoder = new TextEncoder();

  function decode(core, text, length) {
    try {
      return core.fromBase64(text, length, NOT_A_KEY);
    } catch (error) {
      if (error instanceof core.VerificationFailure) return null;
      throw error;
    }
  }

  function equalBytes(a, b) {
    return a.length === b.length && a.every(function (byte, i) { return byte === b[i]; });
  }

  // `name+hex(key id)+base64(0x04 || key)`, the key id checked as for log keys; null if not.
  function parseCosignerKey(core, line) {
    if (typeof line !== "string") return null;
    var first = line.indexOf("+");
    var second = line.indexOf("+", first + 1);
    if (first <= 0 || second < 0) return null;
    var name = line.slice(0, first);
    var keyData = decode(core, line.slice(second + 1), 1 + KEY_LENGTH);
    if (!keyData || keyData[0] !== COSIGNATURE_KEY_TYPE) return null;
    var keyId = core.sha256(encoder.encode(name), new Uint8Array([0x0a]), keyData);
    if (core.toHex(keyId.slice(0, KEY_ID_LENGTH)) !== line.slice(first + 1, second)) return null;
    return { name: name, keyId: keyId.slice(0, KEY_ID_LENGTH), publicKey: keyData.slice(1) };
  }

  // The big-endian u64 of the cosignature, as a Number when it is a safe integer.
  function readTimestamp(bytes) {
    var value = 0;
    for (var i = 0; i < TIMESTAMP_LENGTH; i++) value = value * 256 + bytes[i];
    return Number.isSafeInteger(value) ? value : null;
  }

  // The newest valid cosignature of each trusted cosigner on the checkpoint note:
  // [{name, title, kind, timestamp}]. A line that names a trusted cosigner but does not verify
  // counts for nothing, like a line by a cosigner the page does not know.
  function verifiedCosignatures(core, checkpointNote, cosigners) {
    var split = checkpointNote.lastIndexOf("\n\n");
    var body = checkpointNote.slice(0, split + 1);
    var lines = checkpointNote.slice(split + 2, -1).split("\n");
    var trusted = cosigners
      .map(function (cosigner) {
        return { cosigner: cosigner, key: parseCosignerKey(core, cosigner.key) };
      })
      .filter(function (candidate) { return candidate.key; });
    var newest = new Map();
    lines.forEach(function (line) {
      var match = /^\u2014 ([^ ]+) ([^ ]+)$/.exec(line);
      var blob = match && decode(core, match[2], KEY_ID_LENGTH + TIMESTAMP_LENGTH + SIGNATURE_LENGTH);
      if (!blob) return;
      trusted.forEach(function (candidate) {
        var key = candidate.key;
        if (key.name !== match[1] || !equalBytes(blob.slice(0, KEY_ID_LENGTH), key.keyId)) return;
        var timestamp = readTimestamp(blob.slice(KEY_ID_LENGTH));
        if (timestamp === null) return;
        // tlog-cosignature/v1: the header line, the time line, then the checkpoint's text.
        var message = encoder.encode("cosignature/v1\ntime " + timestamp + "\n" + body);
        if (!core.signatureHolds(key, blob.slice(KEY_ID_LENGTH + TIMESTAMP_LENGTH), message)) {
          return;
        }
        var seen = newest.get(key.name);
        if (!seen || seen.timestamp < timestamp) {
          newest.set(key.name, {
            name: key.name,
            title: candidate.cosigner.title || key.name,
            kind: candidate.cosigner.kind,
            timestamp: timestamp,
          });
        }
      });
    });
    return Array.from(newest.values());
  }

  // "12 seconds ago", "3 minutes ago", in the page's language.
  function ago(seconds, language) {
    var format = new Intl.RelativeTimeFormat(language, { numeric: "always" });
    var units = [["day", 86400], ["hour", 3600], ["minute", 60]];
    for (var i = 0; i < units.length; i++) {
      if (seconds >= units[i][1]) return format.format(-Math.floor(seconds / units[i][1]), units[i][0]);
    }
    return format.format(-Math.max(0, Math.floor(seconds)), "second");
  }

  function fill(template, values) {
    return template.replace(/%\((\w+)\)s/g, function (whole, name) { return String(values[name]); });
  }

  // Say on the page who cosigned the verified checkpoint and when; warn when nobody has, or the
  // newest cosignature is older than the site's promise (a frozen or split view looks so).
  function show(element, checkpointNote, config, messages, nowSeconds) {
    var core = root.carhistoryVerifyCore;
    if (!element || !core) return;
    var language = document.documentElement.lang || undefined;
    var now = nowSeconds === undefined ? Date.now() / 1000 : nowSeconds;
    var cosigned = verifiedCosignatures(core, checkpointNote, config.cosigners || []);
    element.hidden = false;
    element.setAttribute("data-witness-count", String(cosigned.length));
    if (!cosigned.length) {
      element.setAttribute("data-witness-state", "none");
      element.className = "witness-status none";
      element.textContent = messages.witnesses_none;
      return;
    }
    var newest = Math.max.apply(null, cosigned.map(function (c) { return c.timestamp; }));
    var age = ago(now - newest, language);
    var names = new Intl.ListFormat(language, { type: "conjunction" }).format(
      cosigned.map(function (c) { return c.title; })
    );
    var bound = config.witness_freshness_seconds;
    if (now - newest > bound) {
      element.setAttribute("data-witness-state", "stale");
      element.className = "witness-status stale";
      element.textContent = fill(messages.witnesses_stale, {
        age: age,
        minutes: Math.round(bound / 60),
      });
      return;
    }
    element.setAttribute("data-witness-state", "fresh");
    element.className = "witness-status fresh";
    element.textContent = fill(messages.witnesses_cosigned, { names: names, age: age });
  }

  root.carhistoryWitnesses = Object.freeze({
    parseCosignerKey: parseCosignerKey,
    verifiedCosignatures: verifiedCosignatures,
    show: show,
  });
})(globalThis);
