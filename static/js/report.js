// The report page's drawing: the odometer chart (Chart.js, served from /static/vendor/) with
// rollback readings marked, and the print button. The proofs are verify.js's business.
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
  }

  document.addEventListener("DOMContentLoaded", function () {
    drawOdometerChart();
    document.querySelectorAll("[data-print]").forEach(function (button) {
      button.addEventListener("click", function () { window.print(); });
    });
  });
})();
