// synchub console: draws each [data-chart] panel's figures with the vendored uPlot,
// from the JSON beside them. Without JS the panel's table is what shows; with it, the
// table folds away (one click opens it) and the chart takes its place.
(function () {
  "use strict";
  var UNITS = ["B", "KiB", "MiB", "GiB", "TiB", "PiB"];

  function size(n) {
    if (n == null) return "—";
    var value = n, unit = 0;
    while (Math.abs(value) >= 1024 && unit < UNITS.length - 1) { value /= 1024; unit++; }
    if (unit === 0) return Math.round(value) + " B";
    return (value < 100 ? value.toFixed(1) : value.toFixed(0)) + " " + UNITS[unit];
  }

  function duration(s) {
    if (s == null) return "—";
    if (s < 10) return (Math.round(s * 10) / 10) + "s";
    var whole = Math.round(s), parts = [], units = [[86400, "d"], [3600, "h"], [60, "m"], [1, "s"]];
    units.forEach(function (u) {
      var n = Math.floor(whole / u[0]);
      whole -= n * u[0];
      if (n || parts.length) parts.push(n + u[1]);
    });
    return parts.slice(0, 2).join(" ");
  }

  // The page's own colours, so the charts follow light and dark mode.
  function colours() {
    var style = getComputedStyle(document.documentElement);
    function v(name) { return style.getPropertyValue(name).trim(); }
    return {
      succeeded: v("--ok"), failed: v("--bad"), cancelled: v("--muted"),
      bytes: v("--accent"), text: v("--dim"), line: v("--line")
    };
  }

  function axis(c, more) {
    var base = { stroke: c.text, grid: { stroke: c.line, width: 1 }, ticks: { stroke: c.line, width: 1 } };
    return Object.assign(base, more || {});
  }

  function widthOf(el) { return Math.max(240, Math.floor(el.clientWidth)); }

  var bars = uPlot.paths.bars({ size: [0.7, 48] });
  var HEIGHT = 200;

  function activity(panel, data, c) {
    var runsArea = panel.querySelector('[data-chart-kind="runs"]');
    var bytesArea = panel.querySelector('[data-chart-kind="bytes"]');
    var plots = [];
    function draw(days) {
      plots.forEach(function (p) { p.destroy(); });
      var rows = data.slice(-days);
      var x = rows.map(function (r) { return Date.parse(r.day + "T00:00:00Z") / 1000; });
      function col(name) { return rows.map(function (r) { return r[name]; }); }
      // uPlot does not stack: each bar is drawn as itself plus those under it,
      // tallest first, so each colour shows its own part. The legend says the count.
      var raw = [null, col("cancelled"), col("failed"), col("succeeded")];
      var stacked = [
        x,
        rows.map(function (r) { return r.succeeded + r.failed + r.cancelled; }),
        rows.map(function (r) { return r.succeeded + r.failed; }),
        raw[3]
      ];
      function outcome(label, colour) {
        return {
          label: label, fill: colour, stroke: colour, paths: bars, points: { show: false },
          value: function (u, v, si, i) { return i == null ? "—" : raw[si][i]; }
        };
      }
      var xScale = { time: true, range: function (u, min, max) { return [min - 43200, max + 43200]; } };
      var utc = function (ts) { return uPlot.tzDate(new Date(ts * 1e3), "Etc/UTC"); };
      var day = { label: "day", value: function (u, ts) {
        return ts == null ? "—" : new Date(ts * 1e3).toISOString().slice(0, 10); } };
      plots = [
        new uPlot({
          width: widthOf(runsArea), height: HEIGHT, tzDate: utc, scales: { x: xScale },
          series: [day, outcome("cancelled or skipped", c.cancelled), outcome("failed", c.failed),
                   outcome("succeeded", c.succeeded)],
          axes: [axis(c), axis(c, { values: function (u, splits) {
            return splits.map(function (v) { return Number.isInteger(v) ? v : ""; }); } })]
        }, stacked, runsArea),
        new uPlot({
          width: widthOf(bytesArea), height: HEIGHT, tzDate: utc, scales: { x: xScale },
          series: [day, { label: "bytes moved", fill: c.bytes, stroke: c.bytes, paths: bars,
                         points: { show: false }, value: function (u, v) { return size(v); } }],
          axes: [axis(c), axis(c, { size: 70, values: function (u, splits) { return splits.map(size); } })]
        }, [x, col("bytes")], bytesArea)
      ];
      panel.querySelectorAll("[data-days]").forEach(function (b) {
        b.setAttribute("aria-pressed", String(Number(b.dataset.days) === days));
      });
    }
    var controls = panel.querySelector(".chart-controls");
    if (controls) {
      controls.hidden = false;
      controls.addEventListener("click", function (e) {
        var days = e.target && e.target.dataset && Number(e.target.dataset.days);
        if (days) draw(days);
      });
    }
    draw(30);
    return function () { return plots; };
  }

  function history(panel, runs, c) {
    var area = panel.querySelector('[data-chart-kind="history"]');
    var x = runs.map(function (r, i) { return i; });
    function durations(outcome) {
      return runs.map(function (r) { return r.outcome === outcome ? (r.duration_s || 0) : null; });
    }
    function outcome(label, colour) {
      return { label: label, scale: "s", fill: colour, stroke: colour, paths: bars,
               points: { show: false }, value: function (u, v) { return v == null ? "—" : duration(v); } };
    }
    var plot = new uPlot({
      width: widthOf(area), height: HEIGHT,
      scales: { x: { time: false, range: [-0.5, runs.length - 0.5] },
                s: { range: function (u, min, max) { return [0, Math.max(1, max || 0)]; } },
                b: { range: function (u, min, max) { return [0, Math.max(1, max || 0)]; } } },
      series: [
        { label: "run", value: function (u, i) { return i == null || !runs[i] ? "—" : "#" + runs[i].id; } },
        outcome("succeeded", c.succeeded), outcome("failed", c.failed),
        outcome("cancelled or skipped", c.cancelled),
        { label: "bytes moved", scale: "b", stroke: c.bytes, width: 2, points: { show: true, size: 5 },
          value: function (u, v) { return size(v); } }
      ],
      axes: [
        axis(c, { values: function (u, splits) {
          return splits.map(function (i) { return Number.isInteger(i) && runs[i] ? "#" + runs[i].id : ""; });
        } }),
        axis(c, { scale: "s", size: 60, values: function (u, splits) { return splits.map(duration); } }),
        axis(c, { scale: "b", side: 1, size: 70, grid: { show: false },
                  values: function (u, splits) { return splits.map(size); } })
      ]
    }, [x, durations("succeeded"), durations("failed"), durations("cancelled"),
        runs.map(function (r) { return r.bytes; })], area);
    // A bar opens its run (the table's links do the same from the keyboard).
    plot.over.addEventListener("click", function () {
      var i = plot.cursor.idx;
      if (i != null && runs[i]) window.location.href = "/runs/" + runs[i].id;
    });
    plot.over.style.cursor = "pointer";
    return function () { return [plot]; };
  }

  var DRAW = { activity: activity, history: history };

  document.addEventListener("DOMContentLoaded", function () {
    if (typeof uPlot === "undefined") return;
    var drawn = [];
    document.querySelectorAll("[data-chart]").forEach(function (panel) {
      var draw = DRAW[panel.dataset.chart];
      var json = panel.querySelector("script.chart-data");
      if (!draw || !json) return;
      drawn.push(draw(panel, JSON.parse(json.textContent), colours()));
      var table = panel.querySelector("details.chart-table");
      if (table) table.open = false;
    });
    window.addEventListener("resize", function () {
      drawn.forEach(function (plots) {
        plots().forEach(function (p) { p.setSize({ width: widthOf(p.root.parentNode), height: HEIGHT }); });
      });
    });
  });
})();
