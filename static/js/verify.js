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

  // The facts whose words a line's summary must carry: the closed-set values a buyer decides
  // on (a severe accident must not read as minor), and the yes/no facts said as a phrase.
  var SUMMARY_VALUES = ["severity", "event", "use", "brand", "result", "status"];
  var SUMMARY_PHRASES = ["airbags_deployed", "total_loss"];

  function textOf(line, selector) {
    var element = line.querySelector(selector);
    return element ? element.textContent.trim() : null;
  }

  function factText(value) {
    if (Array.isArray(value)) return value.map(factText).join(", ");
    if (typeof value === "string") return value;
    return JSON.stringify(value);
  }

  // What the page says must be what the log holds, or the proof would vouch for other words.
  // Fields the page can render from the entry itself (the date, the list of facts) are
  // rewritten from it; the words it cannot (labels, the summary sentence, the source's name)
  // are checked against it.
  function lineAgrees(line, badge, entry, config, loggedSource) {
    var logged = entry.odometer_km;
    var odometer = logged === undefined || logged === null ? "" : String(logged);
    if (
      badge.getAttribute("data-entry-type") !== entry.type ||
      badge.getAttribute("data-entry-occurred-at") !== (entry.occurred_at || "") ||
      badge.getAttribute("data-entry-odometer-km") !== odometer
    ) {
      return false;
    }
    if (!line) return true;
    var typeLabel = config.type_labels[entry.type];
    if (typeLabel && textOf(line, ".event-type") !== typeLabel) return false;
    var shownKm = textOf(line, ".event-odometer");
    if ((shownKm === null ? "" : shownKm.replace(/[^0-9]/g, "")) !== odometer) return false;
    return summaryAgrees(line, entry, config) && sourceAgrees(line, entry, config, loggedSource);
  }

  function summaryAgrees(line, entry, config) {
    var summary = textOf(line, ".event-summary") || "";
    var facts = entry.facts || {};
    var valuesShown = SUMMARY_VALUES.every(function (name) {
      var value = facts[name];
      if (typeof value !== "string") return true;
      return summary.indexOf(config.value_labels[value] || value) >= 0;
    });
    var phrasesRight = SUMMARY_PHRASES.every(function (name) {
      if (typeof facts[name] !== "boolean" || !config.true_phrases[name]) return true;
      return (summary.indexOf(config.true_phrases[name]) >= 0) === facts[name];
    });
    return valuesShown && phrasesRight;
  }

  // The source's slug is in the entry; its name and kind are in the log's status entries for it
  // (when it has them): the line must name the same source.
  function sourceAgrees(line, entry, config, loggedSource) {
    var source = line.querySelector("[data-source-slug]");
    if (!source || source.getAttribute("data-source-slug") !== entry.source) return false;
    if (!loggedSource) return true;
    // Either of the names the log gave it: Chinese pages show the Chinese one when it has one.
    var shown = textOf(line, ".source-name");
    var chinese = loggedSource.nameZhHans;
    if (shown !== loggedSource.name && (chinese === null || shown !== chinese)) return false;
    var kindLabel = config.kind_labels[loggedSource.kind];
    return !kindLabel || source.textContent.indexOf(kindLabel) >= 0;
  }

  // Rewrite what can be rendered from the verified entry: the date and the list of facts.
  function renderFromEntry(line, entry) {
    if (!line) return;
    var date = line.querySelector(".event-date");
    if (date && typeof entry.occurred_at === "string") {
      var day = new Date(entry.occurred_at.slice(0, 10) + "T00:00:00Z");
      if (!isNaN(day)) {
        date.textContent = new Intl.DateTimeFormat(document.documentElement.lang || undefined, {
          year: "numeric",
          month: "long",
          day: "numeric",
          timeZone: "UTC",
        }).format(day);
      }
    }
    var list = line.querySelector("dl.facts");
    if (!list) return;
    var submitted = list.querySelector("[data-submitted-label]");
    var submittedLabel = submitted ? submitted.textContent : null;
    list.textContent = "";
    Object.keys(entry.facts || {}).forEach(function (name) {
      appendTerm(list, name, factText(entry.facts[name]));
    });
    if (submittedLabel !== null) appendTerm(list, submittedLabel, entry.submitted_at || "");
  }

  function appendTerm(list, term, definition) {
    var dt = document.createElement("dt");
    dt.textContent = term;
    var dd = document.createElement("dd");
    dd.textContent = definition;
    list.appendChild(dt);
    list.appendChild(dd);
  }

  // Every critical risk the verified entries hold must be among the risks the page lists (the
  // verdict, or its other alerts); one that is not is added to the verdict's list, marked as
  // found by the browser, and counted in a note above it.
  function addMissingRisks(report, outcome, core, messages) {
    var missing = core.criticalRisks(outcome).filter(function (risk) {
      var link = 'a[href="#entry-' + risk.index + '"]';
      return !report.querySelector(".verdict-risks " + link + ", .alerts " + link);
    });
    if (!missing.length) return 0;
    var list = report.querySelector(".verdict-risks");
    if (!list) {
      list = document.createElement("ol");
      list.className = "verdict-risks";
      var heading = report.querySelector("#verdict-heading");
      if (heading) heading.after(list);
      else report.prepend(list);
    }
    missing.forEach(function (risk) {
      var item = document.createElement("li");
      item.className = "risk bad";
      item.setAttribute("data-flag", "browser-" + risk.kind);
      item.setAttribute("data-added-by-browser", "");
      var link = document.createElement("a");
      link.href = "#entry-" + risk.index;
      link.textContent = (messages.risks[risk.kind] || risk.kind) + " #" + risk.index;
      item.appendChild(link);
      list.appendChild(item);
    });
    var note = document.createElement("p");
    note.className = "alert bad";
    note.setAttribute("data-risks-added", "");
    note.textContent = format(messages.risks_added, { count: missing.length });
    list.before(note);
    return missing.length;
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

  // The words for logged values come from their own URL, not from the page being checked; a
  // browser that cannot load them checks every line against no words, which fails the lines
  // whose words it would need.
  async function loadWords(url) {
    var empty = { type_labels: {}, kind_labels: {}, value_labels: {}, true_phrases: {} };
    try {
      var response = await fetch(url, { headers: { Accept: "application/json" } });
      return response.ok ? await response.json() : empty;
    } catch (error) {
      return empty;
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
    var fetched = await Promise.all([
      loadBundle(report.getAttribute("data-evidence-url"), function (status) {
        showSummary(summary, "checking", format(messages.retrying, { status: status }));
      }),
      loadWords(config.words_url),
    ]);
    var loaded = fetched[0];
    var words = fetched[1];
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
      var line = report.querySelector("#entry-" + index);
      var result = outcome.results.get(index) || { status: "failed", code: "not_in_bundle" };
      if (result.status !== "failed") {
        var loggedSource = core.loggedSourceName(outcome.sources, result.entry.source);
        if (!lineAgrees(line, badge, result.entry, words, loggedSource)) {
          result = { status: "failed", code: "page_mismatch" };
        } else {
          renderFromEntry(line, result.entry);
        }
      }
      if (line) line.classList.toggle("verify-failed", result.status === "failed");
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
    summary.setAttribute("data-risks-added-count", String(addMissingRisks(report, outcome, core, messages)));
    showLogKey(report, outcome.logKey, core);
    if (window.carhistoryWitnesses) {
      window.carhistoryWitnesses.show(
        report.querySelector("[data-witness-status]"),
        loaded.bundle.checkpoint,
        config,
        messages
      );
    }
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

  // Deferred, so the page is parsed when this runs: start at once rather than after the other
  // scripts' DOMContentLoaded work.
  function start() {
    var report = document.querySelector("[data-verify-report]");
    if (report) run(report);
  }

  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", start);
  else start();
})();
