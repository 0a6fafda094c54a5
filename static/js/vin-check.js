// Checks a VIN as it is typed. The rules live once, on the server (carhistory/vin.py):
// this asks /api/v1/vins/<vin>/check and shows what it says next to the field.
(function () {
  "use strict";

  function feedbackFor(input) {
    var id = input.getAttribute("aria-describedby");
    var element = id && document.getElementById(id);
    if (!element) {
      element = input.parentNode.querySelector("[data-vin-feedback]");
    }
    if (!element) {
      element = document.createElement("p");
      element.setAttribute("data-vin-feedback", "");
      element.id = (input.id || "vin") + "-feedback";
      input.insertAdjacentElement("afterend", element);
      input.setAttribute("aria-describedby", element.id);
    }
    element.setAttribute("aria-live", "polite");
    return element;
  }

  function show(input, feedback, state, text) {
    feedback.textContent = text;
    feedback.className = "vin-feedback " + state;
    input.setAttribute("aria-invalid", state === "bad" ? "true" : "false");
    input.setCustomValidity(state === "bad" ? text : "");
  }

  function attach(input) {
    var feedback = feedbackFor(input);
    var timer = null;
    var latest = 0;

    function check() {
      var value = input.value.trim().toUpperCase();
      if (!value) {
        show(input, feedback, "", "");
        return;
      }
      var ticket = ++latest;
      fetch("/api/v1/vins/" + encodeURIComponent(value) + "/check", {
        headers: { Accept: "application/json", "Accept-Language": document.documentElement.lang },
      })
        .then(function (response) { return response.json(); })
        .then(function (result) {
          if (ticket !== latest) return;  // an older answer arriving late
          if (result.is_valid) {
            var label = input.getAttribute("data-vin-ok") || "✓";
            var decoded = result.decoded || {};
            var about = [decoded.manufacturer, decoded.country].filter(Boolean).join(", ");
            show(input, feedback, "ok", about ? label + " " + about : label);
          } else {
            var messages = (result.errors || []).map(function (error) { return error.message; });
            show(input, feedback, "bad", messages.join(" "));
          }
        })
        .catch(function () {
          if (ticket === latest) show(input, feedback, "", "");
        });
    }

    input.addEventListener("input", function () {
      clearTimeout(timer);
      timer = setTimeout(check, 200);
    });
    if (input.value) check();
  }

  document.querySelectorAll("input[data-vin-check]").forEach(attach);
})();
