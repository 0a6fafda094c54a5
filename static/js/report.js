// The report page's drawing: the odometer chart (Chart.js, served from /static/vendor/) with
// rollback readings marked, the print button, the share button and the list of cars being
// considered. The proofs are verify.js's business.
(function () {
  "use strict";

  var FINDING_COLOURS = { rollback: "#cf222e", impossible_jump: "#9a6700", excluded: "#8c959f" };
  var NORMAL_COLOUR = "#0b5cad";

  function readJson(id) {
    var element = document.getElementById(id);
    return element ? JSON.parse(element.textContent) : null;
  }

  function dayOf(occurredAt) {
    return Date.parse(occurredAt.length === 10 ? occurredAt + "T00:00:00Z" : occurredAt);
  }

  function drawOdometerChart() {
    var canvas = document.getElementById("odometer-chart");
    var readings = readJson("odometer-readings");
    var messages = readJson("chart-messages");
    if (!canvas || !readings || !readings.length || !window.Chart) return;
    var language = document.documentElement.lang || undefined;
    var dateFormat = new Intl.DateTimeFormat(language, {
      year: "numeric",
      month: "short",
      timeZone: "UTC",
    });
    var numberFormat = new Intl.NumberFormat(language);
    var points = readings.map(function (reading) {
      return { x: dayOf(reading.occurred_at), y: reading.km, reading: reading };
    });
    var colours = points.map(function (point) {
      return FINDING_COLOURS[point.reading.finding] || NORMAL_COLOUR;
    });

    var chart = new window.Chart(canvas, {
      type: "line",
      data: {
        datasets: [{
          label: messages.odometer,
          data: points,
          borderColor: NORMAL_COLOUR,
          pointBackgroundColor: colours,
          pointBorderColor: colours,
          pointRadius: points.map(function (point) { return point.reading.finding ? 7 : 3; }),
          pointStyle: points.map(function (point) {
            return point.reading.finding === "rollback" ? "triangle" : "circle";
          }),
          tension: 0,
        }],
      },
      options: {
        maintainAspectRatio: false,
        animation: false,
        scales: {
          x: {
            type: "linear",
            ticks: { callback: function (value) { return dateFormat.format(value); } },
          },
          y: {
            beginAtZero: true,
            ticks: { callback: function (value) { return numberFormat.format(value); } },
          },
        },
        plugins: {
          legend: { display: false },
          tooltip: {
            callbacks: {
              title: function (items) { return items[0].raw.reading.occurred_at; },
              label: function (item) {
                var reading = item.raw.reading;
                var text =
                  numberFormat.format(reading.km) + " " + messages.km + " (#" + reading.index + ")";
                if (!reading.finding) return text;
                return text + " — " + (messages[reading.finding] || reading.finding);
              },
            },
          },
        },
        onClick: function (event, elements) {
          if (!elements.length) return;
          var reading = points[elements[0].index].reading;
          location.hash = "entry-" + reading.index;
        },
      },
    });
    canvas.setAttribute("data-chart-points", String(chart.data.datasets[0].data.length));
    // Printed before it is drawn, the box would be an empty frame: paper shows it once drawn.
    canvas.parentElement.classList.add("drawn");
    // The canvas is sized for the screen; paper is narrower, so redraw for it and back.
    window.addEventListener("beforeprint", function () { chart.resize(); });
    window.addEventListener("afterprint", function () { chart.resize(); });
  }

  // Web Share where the phone has it (WeChat, messages), else the link copied to the clipboard.
  function setUpShare(button) {
    var url = button.getAttribute("data-share-url");
    var title = button.getAttribute("data-share-title");
    button.hidden = false;
    button.addEventListener("click", async function () {
      if (navigator.share) {
        try {
          await navigator.share({ title: title, url: url });
          return;
        } catch (error) {
          if (error.name === "AbortError") return;
        }
      }
      try {
        await navigator.clipboard.writeText(url);
      } catch (error) {
        window.prompt(title, url);
        return;
      }
      button.textContent = button.getAttribute("data-copied");
    });
  }

  // The cars a buyer is considering, kept in this browser only (carhistory never sees it).
  var LIST_KEY = "carhistory.considered";

  function readList() {
    try {
      var list = JSON.parse(localStorage.getItem(LIST_KEY) || "[]");
      return Array.isArray(list) ? list : [];
    } catch (error) {
      return [];
    }
  }

  function setUpConsider(button) {
    var vin = button.getAttribute("data-vin");
    var label = button.getAttribute("data-label").trim();
    function listed() {
      return readList().some(function (car) { return car.vin === vin; });
    }
    function show() {
      if (listed()) button.textContent = button.getAttribute("data-added");
    }
    button.hidden = false;
    show();
    button.addEventListener("click", function () {
      if (listed()) return;
      var list = readList();
      list.unshift({ vin: vin, label: label, added: new Date().toISOString().slice(0, 10) });
      localStorage.setItem(LIST_KEY, JSON.stringify(list.slice(0, 50)));
      show();
    });
  }

  function showList(section) {
    var list = readList();
    var items = section.querySelector("[data-considered-items]");
    if (!list.length) return;
    list.forEach(function (car) {
      var item = document.createElement("li");
      var link = document.createElement("a");
      link.href = "/vehicles/" + encodeURIComponent(car.vin) + "/";
      link.textContent = car.label ? car.label + " · " + car.vin : car.vin;
      var remove = document.createElement("button");
      remove.type = "button";
      remove.className = "secondary small";
      remove.textContent = section.getAttribute("data-remove");
      remove.addEventListener("click", function () {
        var kept = readList().filter(function (other) { return other.vin !== car.vin; });
        localStorage.setItem(LIST_KEY, JSON.stringify(kept));
        item.remove();
        if (!kept.length) section.hidden = true;
      });
      item.append(link, " ", remove);
      items.append(item);
    });
    section.hidden = false;
  }

  // Chart.js is the largest script of the report page (about 70 KB compressed) and drawing it
  // is a long task, while the chart is below the fold and the readings table beside it already
  // says everything the chart shows (on paper, too, and with JavaScript off). So the script is
  // fetched only once the chart's box is on screen. A page that loads Chart.js itself (the
  // printable report) is drawn at once.
  function drawChartWhenShown() {
    var canvas = document.getElementById("odometer-chart");
    if (!canvas) return;
    var box = canvas.parentElement;
    // Hidden in the HTML, so that without JavaScript no empty box is shown.
    box.hidden = false;
    if (window.Chart) {
      drawOdometerChart();
      return;
    }
    var source = canvas.getAttribute("data-chart-script");
    if (!source) return;
    function load() {
      var script = document.createElement("script");
      script.src = source;
      script.onload = drawOdometerChart;
      document.head.appendChild(script);
    }
    if (!("IntersectionObserver" in window)) {
      load();
      return;
    }
    var observer = new IntersectionObserver(function (entries) {
      if (entries.some(function (entry) { return entry.isIntersecting; })) {
        observer.disconnect();
        load();
      }
    });
    observer.observe(box);
  }

  document.addEventListener("DOMContentLoaded", function () {
    drawChartWhenShown();
    document.querySelectorAll("[data-print]").forEach(function (button) {
      button.addEventListener("click", function () { window.print(); });
    });
    document.querySelectorAll("[data-share]").forEach(setUpShare);
    document.querySelectorAll("[data-consider]").forEach(setUpConsider);
    document.querySelectorAll("[data-considered]").forEach(showList);
  });
})();
