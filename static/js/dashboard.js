/* Dashboards: draw the figures built on the server, and follow drill-down links.
 *
 * The figures arrive as JSON in <script type="application/json" id="dashboard-figures">
 * ({name: {data, layout}}); each <div data-figure="name"> gets its figure. A bar or
 * slice with a URL in customdata leads to the tasks behind it. No inline script, so
 * the page runs under a Content-Security-Policy with script-src 'self'.
 */
(function () {
  "use strict";

  var CONFIG = { responsive: true, displayModeBar: false, displaylogo: false,
                 scrollZoom: false, doubleClick: false };

  function drillUrl(point) {
    if (!point) { return null; }
    var url = point.customdata;
    if (url === undefined && point.data && Array.isArray(point.data.customdata)) {
      url = point.data.customdata[point.pointNumber];
    }
    // Only links into this site.
    return (typeof url === "string" && url.charAt(0) === "/" && url.charAt(1) !== "/") ? url : null;
  }

  function draw(element, figure) {
    var hasLinks = (figure.data || []).some(function (trace) {
      return Array.isArray(trace.customdata) && trace.customdata.some(function (u) { return !!u; });
    });
    return window.Plotly.newPlot(element, figure.data, figure.layout, CONFIG).then(function () {
      if (!hasLinks) { return; }
      element.classList.add("drill");
      element.on("plotly_click", function (event) {
        var url = drillUrl(event && event.points && event.points[0]);
        if (url) { window.location.assign(url); }
      });
    });
  }

  function autosubmit() {
    document.querySelectorAll("form[data-autosubmit] select").forEach(function (select) {
      select.addEventListener("change", function () { select.form.submit(); });
    });
  }

  function init() {
    autosubmit();
    var block = document.getElementById("dashboard-figures");
    if (!block || !window.Plotly) { return; }
    var figures = JSON.parse(block.textContent);
    var pending = [];
    document.querySelectorAll("[data-figure]").forEach(function (element) {
      var figure = figures[element.getAttribute("data-figure")];
      if (figure) { pending.push(draw(element, figure)); }
    });
    Promise.all(pending).then(function () { document.body.setAttribute("data-charts-ready", "1"); });
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", init);
  } else {
    init();
  }
})();
