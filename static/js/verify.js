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
    showCompleteness(report, outcome, badges, failedIndexes, messages);
  }

  // SPEC §7: "none left out" only when the VIN index proof holds and every entry the bundle
  // holds is a verified line on this page; a proof that fails says so instead.
  function showCompleteness(report, outcome, badges, failedIndexes, messages) {
    var element = report.querySelector("[data-completeness]");
    if (!element) return;
    var result = outcome.completeness || { status: "absent" };
    var shown = new Set(badges.map(function (badge) { return badge.getAttribute("data-entry-index"); }));
    var allShown = Array.from(outcome.results.keys()).every(function (index) {
      return shown.has(String(index)) && failedIndexes.indexOf(index) < 0;
    });
    var text = "";
    var state = result.status;
    if (result.status === "proven" && allShown) {
      var size = new Intl.NumberFormat("en-US").format(outcome.checkpoint.treeSize);
      text = format(result.records ? messages.complete : messages.complete_none, {
        records: result.records,
        size: size,
      });
    } else if (result.status === "proven" || result.status === "failed") {
      state = "failed";
      text = messages.incomplete;
    }
    element.setAttribute("data-completeness", state);
    element.textContent = text;
    element.hidden = !text;
  }

  document.addEventListener("DOMContentLoaded", function () {
    var report = document.querySelector("[data-verify-report]");
    if (report) run(report);
  });
})();
