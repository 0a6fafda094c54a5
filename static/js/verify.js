// The report page's verification, in the buyer's own browser: fetch the evidence bundle, have
// verify-core.js check it against the log key pinned in the page's configuration, and mark
// every line of the page with what the proofs say about it. The checks themselves live in
// verify-core.js (shared with the corpus tests); this file is only the page.
(function () {
  "use strict";

  function readJson(id) {
    return JSON.parse(document.getElementById(id).textContent);
  }

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

  async function loadBundle(url) {
    var response = await fetch(url, { headers: { Accept: "application/json" }, cache: "no-store" });
    if (!response.ok) return { error: String(response.status) };
    try {
      return { bundle: await response.json() };
    } catch (error) {
      return { bundle: null };
    }
  }

  function showLogKey(report, logKey, core) {
    var keyElement = report.querySelector("[data-log-key]");
    if (keyElement) {
      keyElement.textContent = core.fingerprint(logKey);
      keyElement.title = logKey.line;
    }
  }

  async function run(report) {
    var config = readJson("verify-config");
    var messages = readJson("verify-messages");
    var summary = report.querySelector("[data-verify-summary]");
    var badges = Array.from(report.querySelectorAll(".badge[data-entry-index]"));
    function markAll(status, text, reason) {
      badges.forEach(function (badge) { showBadge(badge, status, text, reason); });
    }
    function reasonFor(code) {
      return messages.reasons[code] || code;
    }

    // The verifier is plain JavaScript (noble), but a browser too old to load it (no BigInt)
    // must say so rather than leave the lines "checking…".
    var core = window.carhistoryVerifyCore;
    if (!core || !window.carhistoryNoble) {
      showSummary(summary, "unsupported", messages.unsupported);
      markAll("unchecked", messages.not_checked);
      return;
    }
    var loaded = await loadBundle(report.getAttribute("data-evidence-url"));
    if (loaded.error) {
      showSummary(summary, "failed", format(messages.fetch_failed, { status: loaded.error }));
      markAll("unchecked", messages.not_checked);
      return;
    }
    var outcome;
    try {
      outcome = core.verifyBundle(loaded.bundle, {
        vin: report.getAttribute("data-vin"),
        logKey: config.log_key,
      });
    } catch (error) {
      if (!(error instanceof core.VerificationFailure)) throw error;
      showSummary(summary, "failed", format(messages.bundle_failed, { reason: reasonFor(error.code) }));
      markAll("failed", messages.failed, reasonFor(error.code));
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
        showBadge(badge, "failed", messages.failed, reasonFor(result.code));
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
    showLogKey(report, outcome.logKey, core);
  }

  document.addEventListener("DOMContentLoaded", function () {
    var report = document.querySelector("[data-verify-report]");
    if (report) run(report);
  });
})();
