// The deployment page's live charts: every 5 seconds it reads GET /api/v1/deployments/NAME/metrics (with the
// session cookie) and draws requests per second and p50/p99 latency per model version as SVG lines. Everything it
// writes goes through DOM methods and textContent, never HTML.
(function () {
  "use strict";
  var box = document.getElementById("live-charts");
  if (!box) return;
  var name = box.dataset.deployment;
  var svgNS = "http://www.w3.org/2000/svg";
  var colors = ["#1565c0", "#ef6c00", "#2e7d32", "#6a1b9a", "#c62828", "#00838f"];

  function element(tag, attributes, parent) {
    var node = document.createElementNS(svgNS, tag);
    Object.keys(attributes).forEach(function (key) { node.setAttribute(key, attributes[key]); });
    if (parent) parent.appendChild(node);
    return node;
  }

  // Draws series [{label, points: [[x, y]]}] into an svg of 480×200, x in seconds since 1970.
  function draw(svg, title, unit, series, from, to) {
    while (svg.firstChild) svg.removeChild(svg.firstChild);
    var left = 48, right = 470, top = 24, bottom = 172;
    var label = element("text", { x: 8, y: 14, "class": "chart-title" }, svg);
    label.textContent = title;
    var max = 0;
    series.forEach(function (s) { s.points.forEach(function (p) { if (p[1] > max) max = p[1]; }); });
    max = max > 0 ? max * 1.1 : 1;
    var axes = element("g", { "class": "chart-axes" }, svg);
    element("line", { x1: left, y1: bottom, x2: right, y2: bottom }, axes);
    element("line", { x1: left, y1: top, x2: left, y2: bottom }, axes);
    [0, 0.5, 1].forEach(function (f) {
      var y = bottom - f * (bottom - top);
      element("line", { x1: left, y1: y, x2: right, y2: y, "class": "chart-grid" }, axes);
      var t = element("text", { x: left - 4, y: y + 3, "text-anchor": "end" }, axes);
      t.textContent = (max * f).toPrecision(3) + (f === 1 ? " " + unit : "");
    });
    var span = Math.max(1, to - from);
    series.forEach(function (s, index) {
      if (!s.points.length) return;
      var d = s.points.map(function (p, i) {
        var x = left + ((p[0] - from) / span) * (right - left);
        var y = bottom - (p[1] / max) * (bottom - top);
        return (i ? "L" : "M") + x.toFixed(1) + " " + y.toFixed(1);
      }).join(" ");
      element("path", { d: d, fill: "none", stroke: colors[index % colors.length], "stroke-width": 2, "class": "chart-line", "data-series": s.label }, svg);
      var legend = element("text", { x: left + 8 + index * 120, y: 192, fill: colors[index % colors.length] }, svg);
      legend.textContent = s.label;
    });
  }

  function refresh() {
    fetch("/api/v1/deployments/" + encodeURIComponent(name) + "/metrics?seconds=300", { credentials: "same-origin", cache: "no-store" })
      .then(function (response) { if (!response.ok) throw new Error(response.status); return response.json(); })
      .then(function (figures) {
        var now = Date.now() / 1000, from = now - 300;
        var requests = [], latency = [], total = 0, errors = 0;
        Object.keys(figures.versions).sort().forEach(function (version) {
          var buckets = figures.versions[version];
          requests.push({ label: "v" + version, points: buckets.map(function (b) { return [b.start, b.requests / figures.bucket_seconds]; }) });
          latency.push({ label: "v" + version + " p50", points: buckets.filter(function (b) { return b.p50_milliseconds != null; }).map(function (b) { return [b.start, b.p50_milliseconds]; }) });
          latency.push({ label: "v" + version + " p99", points: buckets.filter(function (b) { return b.p99_milliseconds != null; }).map(function (b) { return [b.start, b.p99_milliseconds]; }) });
          buckets.forEach(function (b) { total += b.requests; errors += b.errors; });
        });
        draw(document.getElementById("chart-requests"), "Requests per second", "/s", requests, from, now);
        draw(document.getElementById("chart-latency"), "Latency", "ms", latency, from, now);
        var inFlight = Object.keys(figures.in_flight).map(function (v) { return "v" + v + ": " + figures.in_flight[v]; }).join(", ");
        document.getElementById("live-summary").textContent =
          total + " requests in the last five minutes, " + errors + " errors" + (inFlight ? "; in flight now " + inFlight : "");
      })
      .catch(function (error) { document.getElementById("live-summary").textContent = "Figures unavailable (" + error.message + ")."; });
  }
  refresh();
  setInterval(refresh, 5000);
})();
