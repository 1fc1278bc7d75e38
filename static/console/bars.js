// Bar charts on console pages (dataset statistics): Chart.js from npm, with tooltips. Each
// <canvas data-bars="ID"> reads {"labels": [...], "datasets": {name: [numbers]}} from the JSON block ID (no inline
// script: the CSP allows none).
(function () {
  "use strict";
  const COLORS = ["#1f6feb", "#d1242f", "#1a7f37", "#9a6700", "#8250df"];

  function draw(canvas) {
    const source = document.getElementById(canvas.dataset.bars);
    if (!source || typeof Chart === "undefined" || canvas.dataset.drawn) return;
    const data = JSON.parse(source.textContent);
    const datasets = Object.keys(data.datasets).map(function (name, i) {
      return { label: name, data: data.datasets[name], backgroundColor: COLORS[i % COLORS.length] };
    });
    new Chart(canvas, {
      type: "bar",
      data: { labels: data.labels, datasets: datasets },
      options: {
        animation: false,
        scales: { x: { title: { display: !!canvas.dataset.xLabel, text: canvas.dataset.xLabel || "" } } },
        plugins: { tooltip: { enabled: true }, legend: { display: datasets.length > 1, position: "bottom" } },
      },
    });
    canvas.dataset.drawn = String(datasets.length);
  }

  function drawAll() {
    document.querySelectorAll("canvas[data-bars]").forEach(draw);
  }

  document.addEventListener("DOMContentLoaded", drawAll);
  document.addEventListener("htmx:afterSettle", drawAll);
})();
