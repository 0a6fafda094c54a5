// The browser's verifier of evidence bundles (SPEC §6): the same checks, with the same failure
// names, as carhistory_verifier/verify.py (`carhistory-verify`). Pure logic, no page: it runs
// in the report page and, for the shared corpus, in Node.
//
// Its primitives are @noble/curves (Ed25519) and @noble/hashes (SHA-256), bundled into
// static/vendor/noble.js, so it needs nothing from WebCrypto; its words come from
// static/js/protocol.js. Both must be loaded first (they set `carhistoryNoble` and
// `carhistoryProtocol`); this file sets `carhistoryVerifyCore`.
(function (root) {
  "use strict";

  var noble = root.carhistoryNoble;
  var protocol = root.carhistoryProtocol;
  var encoder = new TextEncoder();

  var HASH_LENGTH = 32;
  var SIGNATURE_LENGTH = 64;
  var KEY_ID_LENGTH = 4;
  var ED25519_KEY_TYPE = 0x01; // signed-note verifier keys: 0x01 || 32-byte public key
  var MAX_SIGNATURES = 100; // C2SP signed-note: verifiers cap signature lines per note
  var LEAF_PREFIX = 0x00; // RFC 9162 §2.1.1
  var NODE_PREFIX = 0x01;

  // One name per failure, shared with Python: {inclusion_proof: "inclusion_proof", ...}.
  var FAILURE = Object.freeze(
    Object.fromEntries(protocol.failures.map(function (code) { return [code, code]; }))
  );

  class VerificationFailure extends Error {
    constructor(code) {
      super(code);
      if (!Object.prototype.hasOwnProperty.call(FAILURE, code)) {
        throw new Error("unknown verification failure " + code);
      }
      this.code = code;
    }
  }

  function fail(code) {
    throw new VerificationFailure(code);
  }

  function isPlainObject(value) {
    return value !== null && typeof value === "object" && !Array.isArray(value);
  }

  function isIndex(value) {
    return Number.isSafeInteger(value) && value >= 0;
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
    return fail(FAILURE.entry_malformed);
  }

  // §3.2.2.3: ECMAScript's Number-to-String, which is what String() does (and -0 becomes "0").
  // NaN and the infinities have no JSON form.
  function canonicalNumber(number) {
    if (!Number.isFinite(number)) fail(FAILURE.entry_malformed);
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
        if (!(next >= 0xdc00 && next <= 0xdfff)) fail(FAILURE.entry_malformed);
        out += text[i] + text[i + 1];
        i++;
      } else if (unit >= 0xdc00 && unit <= 0xdfff) {
        fail(FAILURE.entry_malformed);
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

  // The statement a source signs is its entry without the fields the server fills in (SPEC §2).
  function statementOf(entry) {
    // No prototype, so that a field named "__proto__" is copied as a field like any other.
    var statement = Object.create(null);
    Object.keys(entry).forEach(function (key) {
      if (protocol.statement_excluded_fields.indexOf(key) < 0) statement[key] = entry[key];
    });
    return statement;
  }

  // --- bytes, base64, hashes ---------------------------------------------------------------

  var BASE64_ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  var BASE64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;

  function toBase64(bytes) {
    var out = "";
    for (var i = 0; i < bytes.length; i += 3) {
      var chunk = (bytes[i] << 16) | ((bytes[i + 1] || 0) << 8) | (bytes[i + 2] || 0);
      out += BASE64_ALPHABET[(chunk >> 18) & 63] + BASE64_ALPHABET[(chunk >> 12) & 63];
      out += i + 1 < bytes.length ? BASE64_ALPHABET[(chunk >> 6) & 63] : "=";
      out += i + 2 < bytes.length ? BASE64_ALPHABET[chunk & 63] : "=";
    }
    return out;
  }

  // Standard base64 with padding, strictly, as carhistory_verifier.entry.b64decode: the
  // alphabet, the padding, and the one canonical encoding (unused trailing bits zero), so the
  // same bytes cannot be written two ways.
  function fromBase64(text, expectedLength, failureCode) {
    if (typeof text !== "string" || !BASE64.test(text)) fail(failureCode);
    var padding = text.endsWith("==") ? 2 : text.endsWith("=") ? 1 : 0;
    var bytes = new Uint8Array((text.length / 4) * 3 - padding);
    var position = 0;
    for (var i = 0; i < text.length; i += 4) {
      var chunk = 0;
      for (var j = 0; j < 4; j++) {
        var character = text[i + j];
        chunk = (chunk << 6) | (character === "=" ? 0 : BASE64_ALPHABET.indexOf(character));
      }
      [(chunk >> 16) & 255, (chunk >> 8) & 255, chunk & 255].forEach(function (byte) {
        if (position < bytes.length) bytes[position++] = byte;
      });
    }
    if (toBase64(bytes) !== text) fail(failureCode);
    if (expectedLength !== null && bytes.length !== expectedLength) fail(failureCode);
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

  function sha256() {
    return noble.sha256(concatBytes(Array.from(arguments)));
  }

  // RFC 9162 §2.1.1: leaves and nodes are hashed with different prefixes.
  function leafHash(entryBytes) {
    return sha256(new Uint8Array([LEAF_PREFIX]), entryBytes);
  }

  function nodeHash(left, right) {
    return sha256(new Uint8Array([NODE_PREFIX]), left, right);
  }

  // --- C2SP signed-note keys and checkpoints ------------------------------------------------

  // Names sit between "— " and a space in signature lines and between "+"s in key lines, so a
  // space, "+" or control character would make those lines ambiguous.
  function isKeyName(name) {
    return (
      typeof name === "string" && name.length > 0 && !/[+\s]/.test(name) && !hasControl(name, false)
    );
  }

  // Control characters (below U+0020) other than, where allowed, the newline.
  function hasControl(text, newlineAllowed) {
    for (var i = 0; i < text.length; i++) {
      var unit = text.charCodeAt(i);
      if (unit < 0x20 && !(newlineAllowed && unit === 0x0a)) return true;
    }
    return false;
  }

  // A verifier key is `name+hex(key id)+base64(0x01 || public key)`; the key id is the first four
  // bytes of SHA-256(name || "\n" || 0x01 || public key), so the line cannot lie about its name.
  function parseVerifierKey(line, failureCode) {
    if (typeof line !== "string") fail(failureCode);
    // The name holds no "+" and the key id is hex, but base64 may hold "+": split twice only.
    var first = line.indexOf("+");
    var second = line.indexOf("+", first + 1);
    if (first < 0 || second < 0) fail(failureCode);
    var name = line.slice(0, first);
    var keyIdHex = line.slice(first + 1, second);
    if (!isKeyName(name) || !/^[0-9a-f]{8}$/.test(keyIdHex)) fail(failureCode);
    var keyData = fromBase64(line.slice(second + 1), 1 + HASH_LENGTH, failureCode);
    if (keyData[0] !== ED25519_KEY_TYPE) fail(failureCode);
    var keyId = sha256(encoder.encode(name), new Uint8Array([0x0a]), keyData).slice(
      0,
      KEY_ID_LENGTH
    );
    if (toHex(keyId) !== keyIdHex) fail(failureCode);
    return { line: line, name: name, keyId: keyId, publicKey: keyData.slice(1) };
  }

  // RFC 8032 verification, strict (no ZIP-215 leniency): non-canonical encodings are refused, as
  // OpenSSL refuses them for the Python verifier.
  function signatureHolds(key, signature, message) {
    if (signature.length !== SIGNATURE_LENGTH) return false;
    try {
      return noble.ed25519.verify(signature, message, key.publicKey, { zip215: false });
    } catch (error) {
      return false;
    }
  }

  // C2SP signed-note: the text, a blank line, then `— <name> <base64(key id || signature)>` lines.
  // The signature covers the text up to and including its last newline.
  function parseSignedNote(note) {
    if (typeof note !== "string" || hasControl(note, true)) fail(FAILURE.checkpoint_malformed);
    var split = note.lastIndexOf("\n\n");
    if (split < 0 || !note.endsWith("\n")) fail(FAILURE.checkpoint_malformed);
    var lines = note.slice(split + 2, -1).split("\n");
    if (lines.length > MAX_SIGNATURES) fail(FAILURE.checkpoint_malformed);
    var signatures = lines.map(function (line) {
      var match = /^\u2014 ([^ ]+) ([^ ]+)$/.exec(line);
      if (!match || !isKeyName(match[1])) fail(FAILURE.checkpoint_malformed);
      var blob = fromBase64(match[2], null, FAILURE.checkpoint_malformed);
      if (blob.length <= KEY_ID_LENGTH) fail(FAILURE.checkpoint_malformed);
      return {
        name: match[1],
        keyId: blob.slice(0, KEY_ID_LENGTH),
        signature: blob.slice(KEY_ID_LENGTH),
      };
    });
    return { body: note.slice(0, split + 1), signatures: signatures };
  }

  // C2SP tlog-checkpoint: origin, decimal tree size, base64 root hash, then extension lines.
  function parseCheckpointBody(body) {
    var lines = body.slice(0, -1).split("\n");
    if (lines.length < 3 || !lines[0] || !/^(0|[1-9][0-9]*)$/.test(lines[1])) {
      fail(FAILURE.checkpoint_malformed);
    }
    if (lines.slice(3).indexOf("") >= 0) fail(FAILURE.checkpoint_malformed);
    var treeSize = Number(lines[1]);
    if (!Number.isSafeInteger(treeSize)) fail(FAILURE.checkpoint_malformed);
    return {
      origin: lines[0],
      treeSize: treeSize,
      rootHash: fromBase64(lines[2], HASH_LENGTH, FAILURE.checkpoint_malformed),
      extensions: lines.slice(3),
    };
  }

  // Every line that names the log key must verify (a second, bad one is no less a forgery);
  // lines by other keys (witnesses' cosignatures) are left to their own checks.
  function verifyCheckpoint(note, logKey) {
    var parsed = parseSignedNote(note);
    var byLogKey = parsed.signatures.filter(function (signature) {
      return signature.name === logKey.name && equalBytes(signature.keyId, logKey.keyId);
    });
    if (!byLogKey.length) fail(FAILURE.checkpoint_unsigned);
    var message = encoder.encode(parsed.body);
    byLogKey.forEach(function (line) {
      if (!signatureHolds(logKey, line.signature, message)) fail(FAILURE.checkpoint_signature);
    });
    var checkpoint = parseCheckpointBody(parsed.body);
    checkpoint.note = note;
    checkpoint.signatures = parsed.signatures;
    return checkpoint;
  }

  // --- RFC 9162 §2.1.3.2: verifying an inclusion proof ---------------------------------------

  function rootFromInclusionProof(index, treeSize, leaf, proof) {
    if (index >= treeSize) fail(FAILURE.beyond_checkpoint);
    var fn = index;
    var sn = treeSize - 1;
    var r = leaf;
    for (var i = 0; i < proof.length; i++) {
      if (sn === 0) fail(FAILURE.inclusion_proof);
      if (fn % 2 === 1 || fn === sn) {
        r = nodeHash(proof[i], r);
        while (fn % 2 === 0 && fn !== 0) {
          fn = Math.floor(fn / 2);
          sn = Math.floor(sn / 2);
        }
      } else {
        r = nodeHash(r, proof[i]);
      }
      fn = Math.floor(fn / 2);
      sn = Math.floor(sn / 2);
    }
    if (sn !== 0) fail(FAILURE.inclusion_proof);
    return r;
  }

  // --- items: an entry with its index and inclusion proof ------------------------------------

  var SIGNED_FIELDS = ["type", "source", "source_key", "source_sig"];

  function checkItemShape(item) {
    if (!isPlainObject(item) || !isIndex(item.index)) fail(FAILURE.entry_malformed);
    if (!isPlainObject(item.entry) || !Array.isArray(item.inclusion_proof)) {
      fail(FAILURE.entry_malformed);
    }
    SIGNED_FIELDS.forEach(function (field) {
      if (typeof item.entry[field] !== "string") fail(FAILURE.entry_malformed);
    });
    if ("vin" in item.entry && typeof item.entry.vin !== "string") fail(FAILURE.entry_malformed);
    item.inclusion_proof.forEach(function (hash) {
      if (typeof hash !== "string") fail(FAILURE.entry_malformed);
    });
  }

  // The entry is in the log: its leaf hash, walked up its inclusion proof, gives the root hash
  // the log signed.
  function proveInclusion(item, checkpoint) {
    checkItemShape(item);
    if (item.index >= checkpoint.treeSize) fail(FAILURE.beyond_checkpoint);
    var proof = item.inclusion_proof.map(function (hash) {
      return fromBase64(hash, null, FAILURE.inclusion_proof);
    });
    var leaf = leafHash(canonicalBytes(item.entry));
    var root = rootFromInclusionProof(item.index, checkpoint.treeSize, leaf, proof);
    if (!equalBytes(root, checkpoint.rootHash)) fail(FAILURE.inclusion_proof);
    return { index: item.index, entry: item.entry, leafHash: leaf };
  }

  function checkSignature(proven, key) {
    var signature = fromBase64(proven.entry.source_sig, null, FAILURE.source_signature);
    var statement = canonicalBytes(statementOf(proven.entry));
    if (!signatureHolds(key, signature, statement)) fail(FAILURE.source_signature);
  }

  function isPlatformEntry(entry, context) {
    return entry.source === protocol.platform_source && entry.source_key === context.logKey.line;
  }

  // --- what the log says about sources: their keys and their standing ------------------------

  // The bundle's `source_keys` holds the platform's `source_key` entries (a source's key, from
  // its index on, replacing the source's earlier key) and `source_status` entries (a revoked
  // source signs nothing after its revocation). Each is proven and signed by the log key; any
  // that is not fails the whole bundle, as in Python.
  function sourceHistory(items, context) {
    var history = new Map();
    function historyOf(source) {
      if (!history.has(source)) history.set(source, { keys: [], revokedAt: null, names: [] });
      return history.get(source);
    }
    items.forEach(function (item) {
      var proven = proveInclusion(item, context.checkpoint);
      var entry = proven.entry;
      var type = entry.type;
      if (type !== protocol.source_key && type !== protocol.source_status) {
        fail(FAILURE.source_key_entry);
      }
      if (!isPlatformEntry(entry, context)) fail(FAILURE.source_key_entry);
      checkSignature(proven, context.logKey);
      var facts = entry.facts;
      if (!isPlainObject(facts) || typeof facts.source !== "string") {
        fail(FAILURE.source_key_entry);
      }
      var record = historyOf(facts.source);
      if (type === protocol.source_key) {
        if (typeof facts.key !== "string") fail(FAILURE.source_key_entry);
        var key = parseVerifierKey(facts.key, FAILURE.source_key_entry);
        record.keys.push({ index: proven.index, line: facts.key, key: key });
      } else if (facts.status === protocol.revoked) {
        if (record.revokedAt === null || proven.index < record.revokedAt) {
          record.revokedAt = proven.index;
        }
      }
      // Status entries that name the source (its name and kind as the moderators approved
      // them) let the page's "Source: …" be checked against the log, not the server's word.
      if (type === protocol.source_status && typeof facts.name === "string") {
        record.names.push({
          index: proven.index,
          name: facts.name,
          nameZhHans: typeof facts.name_zh_hans === "string" ? facts.name_zh_hans : null,
          kind: facts.kind,
        });
      }
    });
    history.forEach(function (record) {
      record.keys.sort(function (a, b) { return a.index - b.index; });
      record.names.sort(function (a, b) { return a.index - b.index; });
    });
    return history;
  }

  // The key that must have signed a source's entry at `index`: the source's latest key the log
  // published before it. An older key was rotated out; a key of another name is not the
  // source's own, whatever the platform claimed; nothing a revoked source signs after its
  // revocation counts.
  function sourceKeyFor(proven, context) {
    var entry = proven.entry;
    var record = context.sources.get(entry.source);
    var published = record ? record.keys.filter(function (k) { return k.line === entry.source_key; }) : [];
    var before = published.filter(function (k) { return k.index < proven.index; });
    if (!before.length) fail(FAILURE.source_key_unproven);
    if (before[0].key.name !== entry.source) fail(FAILURE.key_name_mismatch);
    var current = record.keys.filter(function (k) { return k.index < proven.index; }).pop();
    if (current.line !== entry.source_key) fail(FAILURE.key_rotated_out);
    return before[0].key;
  }

  function checkNotRevoked(proven, context) {
    var record = context.sources.get(proven.entry.source);
    if (record && record.revokedAt !== null && record.revokedAt < proven.index) {
      fail(FAILURE.source_revoked);
    }
  }

  // Who signed, in the words of the page: the source itself, the platform on a keyless source's
  // behalf, or the platform writing its own entry (which only the platform may).
  var SIGNED_BY = Object.freeze({
    source: "verified",
    platformForSource: "platform_signed",
    platformItself: "platform_entry",
  });

  function checkEntry(proven, context) {
    var entry = proven.entry;
    var signedBy;
    if (protocol.platform_types.indexOf(entry.type) >= 0) {
      // A source must not be able to write a correction or a key in the platform's name.
      if (!isPlatformEntry(entry, context)) fail(FAILURE.platform_only_type);
      checkSignature(proven, context.logKey);
      signedBy = SIGNED_BY.platformItself;
    } else if (entry.source_key === context.logKey.line) {
      checkSignature(proven, context.logKey);
      checkNotRevoked(proven, context);
      signedBy = SIGNED_BY.platformForSource;
    } else {
      checkSignature(proven, sourceKeyFor(proven, context));
      checkNotRevoked(proven, context);
      signedBy = SIGNED_BY.source;
    }
    if ("vin" in entry) {
      if (entry.vin !== context.vin) fail(FAILURE.entry_vin);
    } else if (protocol.types_without_vin.indexOf(entry.type) < 0) {
      fail(FAILURE.entry_malformed);
    }
    return signedBy;
  }

  // The names and kind the log gave `source` last (as of the checkpoint), or null when it gave
  // none. The latest, whatever the line's index: the report names a source as it is now, and a
  // moderator's rename or change of kind is logged (moderation.services.change_source_profile).
  function loggedSourceName(sources, source) {
    var record = sources.get(source);
    if (!record || !record.names.length) return null;
    return record.names[record.names.length - 1];
  }

  // --- what a buyer must not miss, from the verified entries alone ----------------------------

  var CORRECTION_META = ["corrects", "reason", "void"];
  var TOP_LEVEL_FIELDS = ["occurred_at", "odometer_km"];
  var COMMERCIAL_USES = ["commercial", "rental", "taxi"];

  // Each verified entry with its verified corrections applied (later ones win), as the server's
  // report does (vehicles/history.py); voided entries and corrections themselves are left out.
  function effectiveEntries(outcome) {
    var verified = [];
    outcome.results.forEach(function (result, index) {
      if (result.status !== "failed") verified.push({ index: index, entry: result.entry });
    });
    verified.sort(function (a, b) { return a.index - b.index; });
    var byIndex = new Map();
    verified.forEach(function (item) {
      if (item.entry.type === protocol.correction) return;
      var facts = isPlainObject(item.entry.facts) ? item.entry.facts : {};
      byIndex.set(item.index, {
        index: item.index,
        entry: Object.assign({}, item.entry, { facts: Object.assign({}, facts) }),
        voided: false,
      });
    });
    verified.forEach(function (item) {
      var facts = item.entry.facts;
      if (item.entry.type !== protocol.correction || !isPlainObject(facts)) return;
      var corrected = byIndex.get(facts.corrects);
      if (!corrected) return;
      if (facts.void === true) corrected.voided = true;
      Object.keys(facts).forEach(function (name) {
        if (CORRECTION_META.indexOf(name) >= 0) return;
        if (TOP_LEVEL_FIELDS.indexOf(name) >= 0) corrected.entry[name] = facts[name];
        else corrected.entry.facts[name] = facts[name];
      });
    });
    return Array.from(byIndex.values()).filter(function (item) { return !item.voided; });
  }

  function isCount(value) {
    return Number.isSafeInteger(value) && value >= 0;
  }

  // Odometer decreases: a reading lower than an earlier one (by date, then log order).
  function odometerDecreases(items) {
    var readings = items
      .filter(function (item) {
        return isCount(item.entry.odometer_km) && typeof item.entry.occurred_at === "string";
      })
      .sort(function (a, b) {
        var byDate = a.entry.occurred_at.slice(0, 10).localeCompare(b.entry.occurred_at.slice(0, 10));
        return byDate || a.index - b.index;
      });
    var highest = -1;
    var risks = [];
    readings.forEach(function (item) {
      if (item.entry.odometer_km < highest) risks.push({ kind: "odometer_decrease", index: item.index });
      highest = Math.max(highest, item.entry.odometer_km);
    });
    return risks;
  }

  // Recalls still open: an `open` recall with no later `remedied` one for the same campaign.
  function openRecalls(items) {
    var latest = new Map();
    items.forEach(function (item) {
      if (item.entry.type === "recall" && typeof item.entry.facts.campaign === "string") {
        latest.set(item.entry.facts.campaign, item);
      }
    });
    var risks = [];
    latest.forEach(function (item) {
      if (item.entry.facts.status === "open") risks.push({ kind: "open_recall", index: item.index });
    });
    return risks;
  }

  // The critical risks of SPEC §5's facts: title brands, accidents (with their severity, airbags
  // and total losses), odometer decreases, commercial use and open recalls. The page checks that
  // it shows each; one it left out, the browser adds.
  function criticalRisks(outcome) {
    var items = effectiveEntries(outcome);
    var risks = [];
    items.forEach(function (item) {
      var entry = item.entry;
      var facts = entry.facts;
      if (entry.type === "title_brand") risks.push({ kind: "title_brand", index: item.index });
      if (entry.type === "accident") risks.push({ kind: "accident", index: item.index });
      if (entry.type === "insurance_claim" && facts.total_loss === true) {
        risks.push({ kind: "total_loss", index: item.index });
      }
      if (entry.type === "registration" && COMMERCIAL_USES.indexOf(facts.use) >= 0) {
        risks.push({ kind: "commercial_use", index: item.index });
      }
    });
    risks = risks.concat(odometerDecreases(items), openRecalls(items));
    return risks.sort(function (a, b) { return a.index - b.index; });
  }

  // --- the bundle -----------------------------------------------------------------------------

  // Checks run after the entries are verified, each given the bundle and the verified outcome:
  // the VIN index (SPEC §7) and other whole-bundle checks add themselves here with addCheck.
  var bundleChecks = [];

  function addCheck(check) {
    bundleChecks.push(check);
  }

  function checkBundleShape(bundle, options) {
    if (!isPlainObject(bundle) || bundle.format !== protocol.bundle_format) {
      fail(FAILURE.bundle_malformed);
    }
    ["vin", "checkpoint", "log_key"].forEach(function (field) {
      if (typeof bundle[field] !== "string") fail(FAILURE.bundle_malformed);
    });
    if (!Array.isArray(bundle.entries) || !Array.isArray(bundle.source_keys)) {
      fail(FAILURE.bundle_malformed);
    }
    if (options.vin !== undefined && bundle.vin !== options.vin) fail(FAILURE.wrong_vehicle);
  }

  // The log key the buyer trusts: pinned in the page's configuration (from the site's settings,
  // shown as a fingerprint on the printed report), never taken from the bundle being checked.
  function trustedLogKey(bundle, options) {
    if (options.logKey === undefined) {
      return parseVerifierKey(bundle.log_key, FAILURE.log_key_malformed);
    }
    var pinned = parseVerifierKey(options.logKey, FAILURE.log_key_malformed);
    if (bundle.log_key !== pinned.line) fail(FAILURE.log_key_not_pinned);
    return pinned;
  }

  function verifyEntries(items, context) {
    var results = new Map();
    var statements = new Map();
    items.forEach(function (item) {
      var index = isPlainObject(item) ? item.index : undefined;
      var result;
      try {
        var proven = proveInclusion(item, context.checkpoint);
        var status = checkEntry(proven, context);
        // The same signed statement twice is one fact replayed, not two: a second copy of an
        // accident must not become a second accident.
        var statement = canonicalJson(statementOf(proven.entry)) + proven.entry.source_sig;
        if (statements.has(statement)) {
          result = { status: "failed", code: FAILURE.duplicate_statement, entry: item.entry };
          result.duplicateOf = statements.get(statement);
        } else {
          statements.set(statement, proven.index);
          result = { status: status, entry: proven.entry, leafHash: proven.leafHash };
        }
      } catch (error) {
        if (!(error instanceof VerificationFailure)) throw error;
        result = { status: "failed", code: error.code };
      }
      // Two items claiming one index cannot both be that entry: refuse the line.
      if (results.has(index)) result = { status: "failed", code: FAILURE.duplicate_index };
      results.set(index, result);
    });
    return results;
  }

  // Verifies a whole bundle. A failure of the bundle itself (its shape, the log key, the
  // checkpoint, the source history) throws VerificationFailure; a failure of one entry is
  // recorded against its index, so the page can mark that line and still show the rest.
  //
  // options.vin: the VIN the page shows; options.logKey: the pinned log key line.
  function verifyBundle(bundle, options) {
    options = options || {};
    checkBundleShape(bundle, options);
    var logKey = trustedLogKey(bundle, options);
    var checkpoint = verifyCheckpoint(bundle.checkpoint, logKey);
    var context = { vin: bundle.vin, logKey: logKey, checkpoint: checkpoint };
    context.sources = sourceHistory(bundle.source_keys, context);
    var outcome = {
      vin: bundle.vin,
      logKey: logKey,
      checkpoint: checkpoint,
      sources: context.sources,
      results: verifyEntries(bundle.entries, context),
    };
    bundleChecks.forEach(function (check) { check(bundle, outcome); });
    return outcome;
  }

  // The failures of an outcome, in index order: what the corpus compares with Python's. The
  // VIN index (SPEC §7) is checked after the lines, as in Python, which stops at the first
  // failure: its failure is listed when every line holds (a failed line already refutes the
  // bundle, and makes the index's list of entries wrong too).
  function failuresOf(outcome) {
    var failures = [];
    outcome.results.forEach(function (result, index) {
      if (result.status === "failed") failures.push({ index: index, code: result.code });
    });
    var completeness = outcome.completeness;
    if (!failures.length && completeness && completeness.status === "failed") {
      failures.push({ index: null, code: completeness.code });
    }
    return failures;
  }

  // What a person compares with the printed report: the first 128 bits of SHA-256 over the key
  // line, in groups of four hex digits (Verifier.fingerprint in Python). Not the 4-byte key id,
  // which anyone can match by trying 2^32 keys.
  function fingerprint(logKey) {
    var digest = toHex(sha256(encoder.encode(logKey.line))).slice(0, 32);
    return digest.match(/.{4}/g).join(" ");
  }

  root.carhistoryVerifyCore = Object.freeze({
    FAILURE: FAILURE,
    VerificationFailure: VerificationFailure,
    addCheck: addCheck,
    canonicalJson: canonicalJson,
    checkSignature: checkSignature,
    criticalRisks: criticalRisks,
    effectiveEntries: effectiveEntries,
    fail: fail,
    failuresOf: failuresOf,
    fingerprint: fingerprint,
    fromBase64: fromBase64,
    leafHash: leafHash,
    loggedSourceName: loggedSourceName,
    nodeHash: nodeHash,
    parseVerifierKey: parseVerifierKey,
    proveInclusion: proveInclusion,
    rootFromInclusionProof: rootFromInclusionProof,
    sha256: sha256,
    signatureHolds: signatureHolds,
    toBase64: toBase64,
    toHex: toHex,
    verifyBundle: verifyBundle,
    verifyCheckpoint: verifyCheckpoint,
  });
})(globalThis);
