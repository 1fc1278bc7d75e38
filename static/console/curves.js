// Training curves on a job's console page: every logged metric against the step, drawn with Chart.js (npm), with
// tooltips and exponential-moving-average smoothing (a slider, 0 = raw; the raw series stays visible, faint).
// The data comes from a <script type="application/json"> block (no inline script: the CSP allows none); the page's
// live fragment is replaced every few seconds, so charts are (re)drawn after every htmx swap.
(function () {
  "use strict";
  const COLORS = ["#1f6feb", "#d1242f", "#1a7f37", "#9a6700", "#8250df", "#bf3989", "#0969da", "#57606a"];
  const charts = new Map();

  function smooth(points, weight) {
    if (!weight) return points;
    let last = null;
    return points.map(function (p) {
      last = last === null ? p.y : last * weight + (1 - weight) * p.y;
      return { x: p.x, y: last };
    });
  }

  function datasets(series, weight) {
    const out = [];
    Object.keys(series).forEach(function (name, i) {
      const color = COLORS[i % COLORS.length];
      const points = series[name].map(function (p) { return { x: p[0], y: p[1] }; });
      const sparse = points.length < 30; // eval metrics: a few points, drawn as dots so they are never invisible
      if (weight && !sparse) {
        out.push({ label: name + " (raw)", data: points, borderColor: color + "40", pointRadius: 0, borderWidth: 1 });
      }
      out.push({
        label: name,
        data: sparse ? points : smooth(points, weight),
        borderColor: color,
        backgroundColor: color,
        pointRadius: sparse ? 3 : 0,
        borderWidth: 2,
      });
    });
    return out;
  }

  // data-bands="ID": a JSON list of [from, to, open] x ranges shaded behind the lines, each start a vertical line
  // (a batch's pauses; `open`: not over yet, its end is now).
  const BANDS = {
    id: "bands",
    beforeDatasetsDraw: function (chart, args, options) {
      const x = chart.scales.x;
      const area = chart.chartArea;
      const ctx = chart.ctx;
      ctx.save();
      (options.ranges || []).forEach(function (band) {
        const left = Math.max(x.getPixelForValue(band[0]), area.left);
        const right = Math.min(x.getPixelForValue(band[1]), area.right);
        if (right < area.left || left > area.right) return;
        ctx.fillStyle = "rgba(154, 103, 0, 0.15)";
        ctx.fillRect(left, area.top, Math.max(right - left, 2), area.bottom - area.top);
        ctx.fillStyle = "rgba(154, 103, 0, 0.8)";
        ctx.fillRect(left, area.top, 1, area.bottom - area.top);
      });
      ctx.restore();
    },
  };

  function readBands(canvas) {
    const source = canvas.dataset.bands && document.getElementById(canvas.dataset.bands);
    return source ? JSON.parse(source.textContent) : [];
  }

  function draw(canvas) {
    const source = document.getElementById(canvas.dataset.series);
    if (!source || typeof Chart === "undefined") return;
    const series = JSON.parse(source.textContent);
    const slider = document.getElementById(canvas.dataset.smoothing);
    const weight = slider ? Number(slider.value) : 0;
    const old = charts.get(canvas.id);
    if (old) old.destroy();
    const bands = readBands(canvas);
    const chart = new Chart(canvas, {
      type: "line",
      plugins: [BANDS],
      data: { datasets: datasets(series, weight) },
      options: {
        animation: false,
        parsing: false,
        interaction: { mode: "nearest", axis: "x", intersect: false },
        // data-x-min="0": time since a start never goes below it (one point alone would centre the axis on 0)
        scales: {
          x: {
            type: "linear",
            min: canvas.dataset.xMin === undefined ? undefined : Number(canvas.dataset.xMin),
            suggestedMax: bands.length ? Math.max.apply(null, bands.map(function (b) { return b[1]; })) : undefined,
            title: { display: true, text: canvas.dataset.xLabel || "step" },
          },
        },
        plugins: { tooltip: { enabled: true }, legend: { position: "bottom" }, bands: { ranges: bands } },
      },
    });
    charts.set(canvas.id, chart);
    canvas.dataset.drawn = String(chart.data.datasets.length);
    canvas.dataset.bandsDrawn = String(bands.length);
  }

  function drawAll() {
    document.querySelectorAll("canvas[data-series]").forEach(draw);
  }

  document.addEventListener("input", function (event) {
    if (event.target.matches("input[data-smoothing-for]")) {
      const canvas = document.getElementById(event.target.dataset.smoothingFor);
      if (canvas) draw(canvas);
    }
  });
  document.addEventListener("DOMContentLoaded", drawAll);
  document.addEventListener("htmx:afterSettle", drawAll);
})();
