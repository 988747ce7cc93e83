// TensorBoard page: follow the state (starting → ready → stopped) and show
// the Open link once it is ready, without reloading. Without script the
// page has a Refresh link.
(function () {
  "use strict";
  var card = document.getElementById("tensorboard-card");
  if (!card) { return; }
  var tick = function () {
    fetch(card.getAttribute("data-tensorboard-src"), {credentials: "same-origin"})
      .then(function (resp) {
        if (!resp.ok) { throw new Error("state " + resp.status); }
        return resp.json();
      })
      .then(function (st) {
        var was = card.getAttribute("data-state");
        if (st.state === "stopped" && was !== "stopped") {
          window.location.reload(); // the actions change
          return;
        }
        card.setAttribute("data-state", st.state);
        var badge = document.getElementById("tensorboard-state");
        badge.className = "status tensorboard-" + st.state;
        badge.textContent = st.state_text;
        document.getElementById("tensorboard-hint").textContent = st.hint;
        document.getElementById("tensorboard-job-status").textContent = st.job_status;
        document.getElementById("tensorboard-slurm-job").textContent = st.slurm_job_id + (st.node ? " @ " + st.node : "");
        document.getElementById("tensorboard-open-box").hidden = st.state !== "ready";
        var refresh = document.getElementById("tensorboard-refresh");
        if (refresh) { refresh.hidden = st.state !== "starting"; }
        if (st.state !== "stopped") { window.setTimeout(tick, 2000); }
      })
      .catch(function () { window.setTimeout(tick, 5000); });
  };
  window.setTimeout(tick, 1000);
})();
