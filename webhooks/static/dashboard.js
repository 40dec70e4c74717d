/* itsm-align dashboard: fetches the overview's figures (plotly JSON) for the filters on
   the page and draws them into the matching div#chart-<name>. No inline script, so the
   Content-Security-Policy allows scripts from this site only. A click on a bar or point
   opens the items behind it. */
(function () {
  "use strict";
  var config = { displaylogo: false, responsive: true, modeBarButtonsToRemove: ["select2d", "lasso2d"] };

  function draw(name, chart) {
    var target = document.getElementById("chart-" + name);
    if (!target) { return; }
    var layout = chart.figure.layout || {};
    layout.autosize = true;
    delete layout.width;
    /* long objective names: let the axes take the room their labels need */
    ["xaxis", "yaxis"].forEach(function (axis) {
      layout[axis] = Object.assign({ automargin: true }, layout[axis] || {});
    });
    window.Plotly.newPlot(target, chart.figure.data, layout, config).then(function () {
      target.setAttribute("data-rendered", "true");
    });
    var drill = chart.drill || [];
    if (drill.length) { target.classList.add("clickable"); }
    target.on("plotly_click", function (event) {
      var point = event.points && event.points[0];
      if (!point) { return; }
      var index = point.pointIndex !== undefined ? point.pointIndex : point.pointNumber;
      if (drill[index]) { window.location.href = drill[index]; }
    });
  }

  var source = document.getElementById("charts-source");
  if (source) {
    fetch(source.getAttribute("data-src"), { credentials: "same-origin", headers: { Accept: "application/json" } })
      .then(function (response) {
        if (!response.ok) { throw new Error("charts: HTTP " + response.status); }
        return response.json();
      })
      .then(function (charts) {
        Object.keys(charts).forEach(function (name) { draw(name, charts[name]); });
        document.body.setAttribute("data-charts", "ready");
      })
      .catch(function (error) {
        document.body.setAttribute("data-charts", "failed");
        Array.prototype.forEach.call(document.querySelectorAll(".chart"), function (div) {
          div.textContent = "The chart could not be loaded (" + error.message + "); reload the page to try again.";
          div.className = "chart note";
        });
      });
  }

  /* choosing a filter value applies it at once */
  Array.prototype.forEach.call(document.querySelectorAll("form.filters select"), function (select) {
    select.addEventListener("change", function () { select.form.submit(); });
  });
}());
