// Training metrics on console pages (a job's page, the run comparison): one small Chart.js chart (npm) per metric
// family, each with its own y axis, tooltips, numbers in significant figures or scientific notation (a learning rate
// of 2e-5 reads 2e-5), and exponential-moving-average smoothing from one slider for every chart (0 = raw; the raw
// series stays visible, faint).
// Each <div data-charts="ID" data-part="charts|other"> draws the charts listed under that part of the JSON block ID
// ({"charts": [{id, title, series: [{key, label, points: [[step, value], …]}]}], "other": […]}; no inline script:
// the CSP allows none). The job page's live fragment replaces that block every few seconds: charts are then updated
// in place (new ones added), never torn down; charts in a closed <details> are drawn when it opens.
(function () {
  "use strict";
  const COLORS = ["#1f6feb", "#d1242f", "#1a7f37", "#9a6700", "#8250df", "#bf3989", "#0969da", "#57606a", "#cf222e",
    "#116329"];
  const charts = new Map(); // canvas id → Chart

  function fmt(v) {
    if (typeof v !== "number" || !isFinite(v)) return String(v);
    if (v === 0) return "0";
    const a = Math.abs(v);
    if (a >= 1e5 || a < 1e-3) return v.toExponential(2).replace(/\.?0+e/, "e");
    return String(Number(v.toPrecision(4)));
  }

  // An axis tick: as many significant digits as the axis's step needs, so that neighbouring ticks always differ
  // (an entropy axis from 7.5743 to 7.5747 reads 7.5743, 7.5744, … — never 7.574 three times).
  function tickFmt(value, index, ticks) {
    if (typeof value !== "number" || !isFinite(value) || !ticks || ticks.length < 2) return fmt(value);
    const step = Math.abs(ticks[1].value - ticks[0].value);
    const max = Math.max.apply(null, ticks.map(function (t) { return Math.abs(t.value); }));
    if (!step || !max || !isFinite(step)) return fmt(value);
    if (value === 0) return "0";
    const lead = Math.floor(Math.log10(max));
    const digits = Math.min(15, Math.max(2, lead - Math.floor(Math.log10(step)) + 2));
    if (max >= 1e5 || max < 1e-3) return value.toExponential(digits - 1).replace(/\.?0+e/, "e");
    return String(Number(value.toFixed(Math.min(20, Math.max(0, digits - 1 - lead)))));
  }

  function smooth(points, weight) {
    if (!weight) return points;
    let last = null;
    return points.map(function (p) {
      last = last === null ? p.y : last * weight + (1 - weight) * p.y;
      return { x: p.x, y: last };
    });
  }

  function datasets(spec, weight) {
    const out = [];
    spec.series.forEach(function (line, i) {
      const color = COLORS[i % COLORS.length];
      const points = line.points.map(function (p) { return { x: p[0], y: p[1] }; });
      const sparse = points.length < 30; // eval metrics: a few points, drawn as dots so they are never invisible
      if (weight && !sparse) {
        out.push({ label: line.label + " ·", raw: true, data: points, borderColor: color + "40",
          backgroundColor: color + "40", pointRadius: 0, borderWidth: 1 });
      }
      out.push({
        label: line.label,
        data: sparse ? points : smooth(points, weight),
        borderColor: color,
        backgroundColor: color,
        pointRadius: sparse ? 3 : 0,
        borderWidth: 2,
      });
    });
    return out;
  }

  function weight() {
    const slider = document.getElementById("smoothing");
    return slider ? Number(slider.value) : 0;
  }

  function options(xLabel, legend) {
    return {
      animation: false,
      parsing: false,
      maintainAspectRatio: false,
      interaction: { mode: "nearest", axis: "x", intersect: false },
      scales: {
        x: { type: "linear", title: { display: true, text: xLabel }, ticks: { callback: tickFmt } },
        y: { type: "linear", ticks: { callback: tickFmt } },
      },
      plugins: {
        tooltip: {
          enabled: true,
          filter: function (item) { return !item.dataset.raw; },
          callbacks: {
            title: function (items) { return items.length ? xLabel + " " + fmt(items[0].parsed.x) : ""; },
            label: function (item) { return item.dataset.label + ": " + fmt(item.parsed.y); },
          },
        },
        legend: {
          display: legend,
          position: "bottom",
          labels: { boxWidth: 12, filter: function (item, data) { return !data.datasets[item.datasetIndex].raw; } },
        },
      },
    };
  }

  function figure(grid, spec, index) {
    const id = "chart-" + spec.id;
    let canvas = document.getElementById(id);
    if (canvas) {
      const fig = canvas.closest("figure");
      fig.querySelector("figcaption").textContent = spec.title;
      if (grid.children[index] !== fig) grid.insertBefore(fig, grid.children[index] || null); // families in order
      return canvas;
    }
    const fig = document.createElement("figure");
    fig.className = "chart";
    fig.dataset.chart = spec.id;
    const caption = document.createElement("figcaption");
    caption.textContent = spec.title;
    const box = document.createElement("div");
    box.className = "chart-box";
    canvas = document.createElement("canvas");
    canvas.id = id;
    canvas.setAttribute("aria-label", spec.title);
    box.appendChild(canvas);
    fig.appendChild(caption);
    fig.appendChild(box);
    grid.insertBefore(fig, grid.children[index] || null);
    return canvas;
  }

  function update(chart, next) {
    const current = chart.data.datasets; // kept objects keep what the reader hid by clicking the legend
    next.forEach(function (d, i) {
      if (current[i] && current[i].label === d.label) Object.assign(current[i], d);
      else current[i] = d;
    });
    current.length = next.length;
    chart.update("none");
  }

  function drawGrid(grid) {
    const source = document.getElementById(grid.dataset.charts);
    if (!source || typeof Chart === "undefined") return;
    const specs = JSON.parse(source.textContent)[grid.dataset.part || "charts"] || [];
    const holder = grid.closest("[data-charts-holder]");
    if (holder) holder.hidden = specs.length === 0;
    if (grid.closest("details:not([open])")) return; // drawn when opened: a hidden canvas has no size
    const xLabel = grid.dataset.xLabel || "step";
    const ids = new Set();
    specs.forEach(function (spec, index) {
      const canvas = figure(grid, spec, index);
      ids.add(canvas.id);
      const next = datasets(spec, weight());
      const legend = spec.series.length > 1;
      const chart = charts.get(canvas.id);
      if (chart) {
        update(chart, next);
      } else {
        charts.set(canvas.id, new Chart(canvas, { type: "line", data: { datasets: next }, options: options(xLabel, legend) }));
      }
      canvas.dataset.drawn = String(next.length);
    });
    grid.querySelectorAll("figure.chart canvas").forEach(function (canvas) {
      if (ids.has(canvas.id)) return;
      const chart = charts.get(canvas.id);
      if (chart) chart.destroy();
      charts.delete(canvas.id);
      canvas.closest("figure").remove();
    });
  }

  function drawAll() {
    document.querySelectorAll("[data-charts]").forEach(drawGrid);
  }

  window.formatMetric = fmt; // for the page's own checks
  window.formatTick = tickFmt;
  document.addEventListener("input", function (event) {
    if (event.target.id === "smoothing") drawAll();
  });
  document.addEventListener("toggle", function (event) {
    if (event.target.matches && event.target.matches("details[data-charts-holder]")) drawAll();
  }, true);
  document.addEventListener("DOMContentLoaded", drawAll);
  document.addEventListener("htmx:afterSettle", drawAll);
})();
