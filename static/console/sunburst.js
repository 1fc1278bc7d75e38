// The verb–object chart of the diversity page (as in the Self-Instruct paper's figure): Chart.js from npm, a
// doughnut with two rings, the inner one the commonest root verbs, the outer one each verb's commonest objects
// (its other objects as "other"), placed under their verb because each verb's objects add up to the verb.
// <canvas data-sunburst="ID"> reads [{verb, n, objects: [{object, n}]}] from the JSON block ID (the CSP allows no
// inline script).
(function () {
  "use strict";
  const COLORS = ["#1f6feb", "#d1242f", "#1a7f37", "#9a6700", "#8250df", "#bf3989", "#0a7ea4", "#6e7781"];

  function draw(canvas) {
    const source = document.getElementById(canvas.dataset.sunburst);
    if (!source || typeof Chart === "undefined" || canvas.dataset.drawn) return;
    const verbs = JSON.parse(source.textContent);
    const outerLabels = [], outerData = [], outerColors = [];
    verbs.forEach(function (v, i) {
      v.objects.forEach(function (o) {
        outerLabels.push(v.verb + " · " + o.object);
        outerData.push(o.n);
        outerColors.push(COLORS[i % COLORS.length] + (o.object === "other" ? "40" : "99"));
      });
    });
    new Chart(canvas, {
      type: "doughnut",
      data: {
        datasets: [
          { labels: outerLabels, data: outerData, backgroundColor: outerColors },
          {
            labels: verbs.map(function (v) { return v.verb; }),
            data: verbs.map(function (v) { return v.n; }),
            backgroundColor: verbs.map(function (v, i) { return COLORS[i % COLORS.length]; }),
          },
        ],
      },
      options: {
        animation: false,
        plugins: {
          legend: { display: false },
          tooltip: {
            callbacks: {
              label: function (item) { return item.dataset.labels[item.dataIndex] + ": " + item.raw; },
            },
          },
        },
      },
    });
    canvas.dataset.drawn = "1";
  }

  function drawAll() {
    document.querySelectorAll("canvas[data-sunburst]").forEach(draw);
  }

  document.addEventListener("DOMContentLoaded", drawAll);
  document.addEventListener("htmx:afterSettle", drawAll);
})();
