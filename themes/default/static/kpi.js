/* The dashboard's bar charts: one per metric, a bar per township or site
   (data from the page; ECharts vendored under vendor/echarts). */
(function () {
  function draw() {
    var box = document.getElementById("kpi-charts");
    if (!box || !window.echarts) return;
    var charts = JSON.parse(box.getAttribute("data-charts"));
    charts.forEach(function (c) {
      var div = document.createElement("div");
      div.className = "chart";
      div.setAttribute("data-metric", c.code);
      box.appendChild(div);
      var chart = window.echarts.init(div, null, {renderer: "svg"});
      window.addEventListener("resize", function () { chart.resize(); });  // a phone turned, a window resized
      chart.setOption({
        textStyle: {fontFamily: window.getComputedStyle(document.body).fontFamily},  // the page's fonts (Mongolian too)
        title: {text: c.label + (c.unit === "rate" ? " (%)" : ""), textStyle: {fontSize: 13}},
        tooltip: {trigger: "axis"},
        grid: {left: 40, right: 10, bottom: 60, top: 40},
        xAxis: {type: "category", data: c.names, axisLabel: {rotate: 30, fontSize: 10}},
        yAxis: {type: "value", max: c.unit === "rate" ? 100 : null},
        series: [{type: "bar", data: c.values,
                  markLine: {symbol: "none", label: {formatter: "{c}"}, lineStyle: {color: "#cf222e", type: "dashed"},
                             data: (c.minimums || []).map(function (m) { return {yAxis: m}; })}}]
      });
    });
  }
  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", draw); else draw();
})();
