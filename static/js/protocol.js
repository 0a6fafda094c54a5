// The words of the carhistory protocol as the browser verifier spells them. They must be the
// words of verifier/src/carhistory_verifier/protocol.py (`as_json()`): a test loads this file
// and compares the two, so a new platform-only type or failure is added in both or neither.
(function (root) {
  "use strict";

  root.carhistoryProtocol = Object.freeze({
    bundle_format: "carhistory-evidence/v1",
    platform_source: "platform",
    entry_version: 1,
    source_types: [
      "odometer",
      "service",
      "repair",
      "accident",
      "insurance_claim",
      "registration",
      "title_brand",
      "inspection",
      "recall",
      "manufacture",
    ],
    platform_types: ["correction", "source_key", "source_status", "vin_index"],
    types_without_vin: ["source_key", "source_status", "vin_index"],
    source_key: "source_key",
    source_status: "source_status",
    correction: "correction",
    vin_index: "vin_index",
    revoked: "revoked",
    statement_excluded_fields: ["source_sig", "private_commitment", "submitted_at", "nonce"],
    failures: [
      "bundle_malformed",
      "wrong_vehicle",
      "log_key_malformed",
      "log_key_not_pinned",
      "checkpoint_malformed",
      "checkpoint_unsigned",
      "checkpoint_signature",
      "entry_malformed",
      "entry_vin",
      "duplicate_index",
      "beyond_checkpoint",
      "inclusion_proof",
      "source_key_entry",
      "source_key_unproven",
      "key_name_mismatch",
      "key_rotated_out",
      "source_revoked",
      "platform_only_type",
      "source_signature",
      "duplicate_statement",
      "vin_index",
    ],
  });
})(globalThis);
