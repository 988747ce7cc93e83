// Metrics charts: while a job runs, fetch its charts again (the same
// server-rendered SVG the page shows) and put them in place. The page
// reads fine without this; it only saves reloading.
(function () {
  "use strict";
  var delay = 5000;
  var tick = function () {
    var box = document.getElementById("metrics-charts");
    var src = box && box.getAttribute("data-metrics-src");
    if (!src) { return; } // the job has ended: the charts no longer change
    fetch(src, {credentials: "same-origin"})
      .then(function (resp) {
        if (!resp.ok) { throw new Error("metrics " + resp.status); }
        return resp.text();
      })
      .then(function (html) {
        var doc = new DOMParser().parseFromString(html, "text/html");
        var fresh = doc.getElementById("metrics-charts");
        if (fresh) { box.replaceWith(document.importNode(fresh, true)); }
        window.setTimeout(tick, delay);
      })
      .catch(function () { window.setTimeout(tick, 2 * delay); });
  };
  window.setTimeout(tick, delay);
})();
