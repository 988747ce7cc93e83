// Small enhancements only; every page works without this file.
(function () {
  "use strict";

  // Close the user menu when clicking elsewhere.
  document.addEventListener("click", function (ev) {
    var menu = document.getElementById("user-menu");
    if (menu && menu.open && !menu.contains(ev.target)) {
      menu.open = false;
    }
  });

  // Buttons with data-confirm ask before submitting their form.
  document.addEventListener("click", function (ev) {
    var b = ev.target.closest ? ev.target.closest("[data-confirm]") : null;
    if (b && !window.confirm(b.getAttribute("data-confirm"))) {
      ev.preventDefault();
    }
  });

  // Upload forms (data-progress="<progress id>") send with XHR to show
  // progress; the server's answer (a redirect or the form with errors)
  // replaces the page as a normal submit would.
  document.querySelectorAll("form[data-progress]").forEach(function (form) {
    form.addEventListener("submit", function (ev) {
      ev.preventDefault();
      var bar = document.getElementById(form.getAttribute("data-progress"));
      var status = document.getElementById("upload-status");
      var buttons = form.querySelectorAll("button");
      buttons.forEach(function (b) { b.disabled = true; });
      bar.hidden = false;
      bar.value = 0;
      var xhr = new XMLHttpRequest();
      xhr.open("POST", form.action);
      xhr.upload.addEventListener("progress", function (e) {
        if (e.lengthComputable) {
          bar.value = Math.floor((e.loaded / e.total) * 100);
          bar.setAttribute("data-percent", String(bar.value));
          if (status) { status.textContent = bar.value + "%"; }
        }
      });
      xhr.upload.addEventListener("load", function () {
        bar.value = 100;
        bar.setAttribute("data-percent", "100");
      });
      xhr.addEventListener("load", function () {
        // Show the page the server answered with (after a redirect: the new
        // data's page, whose flash message was consumed by this request).
        if (xhr.responseURL && xhr.responseURL !== window.location.href) {
          window.history.replaceState(null, "", xhr.responseURL);
        }
        document.open();
        document.write(xhr.responseText);
        document.close();
      });
      xhr.addEventListener("error", function () {
        buttons.forEach(function (b) { b.disabled = false; });
        if (status) { status.textContent = "✗"; }
      });
      xhr.send(new FormData(form));
    });
  });

  // Dataset form: drag and drop between area lists. The table of selects
  // stays the source of truth (and the keyboard way); dropping sets a select.
  var board = document.getElementById("area-board");
  var table = document.getElementById("area-table");
  if (board && table) {
    var lists = {};
    board.querySelectorAll(".area").forEach(function (sec) {
      lists[sec.getAttribute("data-area")] = sec.querySelector(".droplist");
      sec.addEventListener("dragover", function (e) { e.preventDefault(); sec.classList.add("over"); });
      sec.addEventListener("dragleave", function () { sec.classList.remove("over"); });
      sec.addEventListener("drop", function (e) {
        e.preventDefault();
        sec.classList.remove("over");
        var id = e.dataTransfer.getData("text/plain");
        var sel = table.querySelector('select[name="area_' + id + '"]');
        if (sel) { sel.value = sec.getAttribute("data-area"); render(); }
      });
    });
    var render = function () {
      Object.keys(lists).forEach(function (k) { lists[k].textContent = ""; });
      table.querySelectorAll("tbody tr[data-id]").forEach(function (row) {
        var sel = row.querySelector("select");
        var li = document.createElement("li");
        li.draggable = true;
        var label = document.createElement("span");
        label.textContent = "#" + row.getAttribute("data-id") + " " + row.getAttribute("data-name");
        li.appendChild(label);
        li.setAttribute("data-id", row.getAttribute("data-id"));
        li.addEventListener("dragstart", function (e) {
          e.dataTransfer.setData("text/plain", row.getAttribute("data-id"));
        });
        // Buttons do what dragging does, from the keyboard.
        Array.prototype.forEach.call(sel.options, function (opt) {
          if (opt.value === sel.value) { return; }
          var b = document.createElement("button");
          b.type = "button";
          b.className = "move";
          b.setAttribute("data-move", opt.value);
          b.textContent = "→ " + opt.textContent;
          b.addEventListener("click", function () {
            sel.value = opt.value;
            render();
            var moved = board.querySelector('li[data-id="' + row.getAttribute("data-id") + '"] button');
            if (moved) { moved.focus(); }
          });
          li.appendChild(b);
        });
        (lists[sel.value] || lists[""]).appendChild(li);
      });
    };
    table.addEventListener("change", render);
    board.hidden = false;
    render();
  }
})();

// Job page (training, inference): follow the log while the job may still
// write to it.
(function () {
  "use strict";
  var pre = document.querySelector("pre[data-live-log]");
  if (!pre || pre.getAttribute("data-active") !== "true") { return; }
  var offset = parseInt(pre.getAttribute("data-offset"), 10) || 0;
  var tick = function () {
    fetch(pre.getAttribute("data-src") + "?offset=" + offset, {credentials: "same-origin"})
      .then(function (resp) {
        var status = resp.headers.get("X-Job-Status");
        return resp.text().then(function (text) {
          if (text) {
            var atBottom = pre.scrollTop + pre.clientHeight >= pre.scrollHeight - 4;
            pre.textContent += text;
            offset += new Blob([text]).size;
            if (atBottom) { pre.scrollTop = pre.scrollHeight; }
          }
          if (status && ["submitting", "queued", "running"].indexOf(status) < 0) {
            return; // the job has ended: the status poll below reloads the page
          }
          window.setTimeout(tick, 2000);
        });
      })
      .catch(function () { window.setTimeout(tick, 5000); });
  };
  window.setTimeout(tick, 2000);
})();

// Job page: follow the status, times and output files. Once the job is
// final the page reloads, to offer Delete instead of Stop and show the
// whole result as the server renders it. The page's element ids start with
// the job's kind (training-status, inference-status, …).
(function () {
  "use strict";
  var card = document.querySelector("[data-job-state]");
  if (!card || card.getAttribute("data-active") !== "true") { return; }
  var kind = card.getAttribute("data-job-state");
  var byId = function (id) { return document.getElementById(id.replace(/^job-/, kind + "-")); };
  var setTime = function (id, t) {
    var dd = byId(id);
    var shown = dd.querySelector("time");
    if (t && shown && shown.getAttribute("datetime") === t.datetime) { return; }
    dd.textContent = "";
    if (!t) { return; }
    var el = document.createElement("time");
    el.setAttribute("datetime", t.datetime);
    el.textContent = t.text;
    dd.appendChild(el);
    localTime(el);
  };
  var table = byId("output-table");
  var shownOutputs = null;
  var setOutputs = function (files) {
    var key = JSON.stringify(files);
    if (key === shownOutputs) { return; } // keep the rows (and a focused link) when nothing changed
    shownOutputs = key;
    var body = table.tBodies[0];
    body.textContent = "";
    if (!files.length) {
      body.insertRow().insertCell().textContent = table.getAttribute("data-empty");
      return;
    }
    files.forEach(function (f) {
      var row = body.insertRow();
      var a = document.createElement("a");
      a.href = f.url;
      a.className = "output-link";
      a.textContent = f.path;
      row.insertCell().appendChild(a);
      row.insertCell().textContent = f.size;
      var pv = document.createElement("a");
      pv.href = f.preview;
      pv.className = "output-preview";
      pv.textContent = table.getAttribute("data-preview");
      row.insertCell().appendChild(pv);
    });
  };
  var tick = function () {
    fetch(card.getAttribute("data-src"), {credentials: "same-origin"})
      .then(function (resp) {
        if (!resp.ok) { throw new Error("state " + resp.status); }
        return resp.json();
      })
      .then(function (st) {
        var badge = byId("job-status");
        badge.className = "status status-" + st.status;
        badge.textContent = st.status_text;
        var reason = byId("job-reason");
        reason.textContent = st.reason;
        reason.hidden = !st.reason;
        byId("job-exit").hidden = st.exit_code === null;
        byId("job-exit-code").textContent = st.exit_code === null ? "" : String(st.exit_code);
        byId("job-slurm-job").textContent = st.slurm_job_id + (st.node ? " @ " + st.node : "");
        setTime("job-queued", st.queued_at);
        setTime("job-started", st.started_at);
        setTime("job-ended", st.ended_at);
        byId("job-waited").textContent = st.waited;
        byId("job-ran").textContent = st.ran;
        setOutputs(st.outputs);
        var shell = byId("job-shell"); // offered while the job runs
        if (shell) { shell.hidden = st.status !== "running"; }
        if (!st.active) {
          window.location.reload();
          return;
        }
        window.setTimeout(tick, 3000);
      })
      .catch(function () { window.setTimeout(tick, 5000); });
  };
  window.setTimeout(tick, 3000);
})();

// Job list: refresh the status cells of the shown rows.
(function () {
  "use strict";
  var table = document.querySelector("table[data-status-url]");
  if (!table) { return; }
  var rows = table.querySelectorAll("tbody tr[data-id]");
  if (!rows.length) { return; }
  var ids = Array.prototype.map.call(rows, function (r) { return r.getAttribute("data-id"); });
  var tick = function () {
    fetch(table.getAttribute("data-status-url") + "?ids=" + ids.join(","), {credentials: "same-origin"})
      .then(function (resp) { return resp.json(); })
      .then(function (states) {
        rows.forEach(function (row) {
          var st = states[row.getAttribute("data-id")];
          if (!st) { return; }
          var cell = row.querySelector("[data-status]");
          if (cell.className !== "status status-" + st.status) {
            cell.className = "status status-" + st.status;
            cell.textContent = st.status_text; // in the visitor's language
          }
          row.querySelector("[data-reason]").textContent = st.reason;
        });
        window.setTimeout(tick, 5000);
      })
      .catch(function () { window.setTimeout(tick, 10000); });
  };
  window.setTimeout(tick, 5000);
})();

// Home: swap in the live part (jobs, quota) as the server renders it now.
(function () {
  "use strict";
  var live = document.getElementById("home-live");
  if (!live) { return; }
  var tick = function () {
    fetch(live.getAttribute("data-live-url"), {credentials: "same-origin"})
      .then(function (resp) {
        if (!resp.ok) { throw new Error("home " + resp.status); }
        return resp.text();
      })
      .then(function (html) {
        live.innerHTML = html;
        live.querySelectorAll("time[datetime]").forEach(localTime);
        window.setTimeout(tick, 5000);
      })
      .catch(function () { window.setTimeout(tick, 15000); });
  };
  window.setTimeout(tick, 5000);
})();

// Pickers on job forms (templates/partials/picker.html): a changed Git
// server, repository or branch, or changed resources, swap in the part the
// server renders for the form's values (GET data-pick), instead of the
// list buttons' reload of the whole page. The buttons stay for pages
// without this script.
(function () {
  "use strict";
  // What a changed choice makes stale: the choices below it.
  var below = {git_server: ["git_repository", "git_branch", "git_commit"], git_repository: ["git_branch", "git_commit"], git_branch: ["git_commit"]};
  var query = function (form, part, changed) {
    var q = new URLSearchParams();
    var stale = below[changed] || [];
    new FormData(form).forEach(function (v, k) {
      if (k !== "csrf_token" && typeof v === "string" && stale.indexOf(k) < 0) { q.append(k, v); }
    });
    q.set("id", part.getAttribute("data-pick-id"));
    var b = part.querySelector("button[formaction]");
    if (b) { q.set("action", new URL(b.formAction, location.href).pathname); }
    return q;
  };
  var swap = function (part, changed) {
    var form = part.closest("form");
    if (!form) { return; }
    var url = part.getAttribute("data-pick") + "?" + query(form, part, changed).toString();
    part.setAttribute("aria-busy", "true");
    fetch(url, {credentials: "same-origin"})
      .then(function (r) { return r.ok ? r.text() : Promise.reject(r.status); })
      .then(function (html) {
        var t = document.createElement("template");
        t.innerHTML = html.trim();
        var next = t.content.firstElementChild;
        if (next && next.id === part.id) { part.replaceWith(next); }
      })
      .catch(function () { part.removeAttribute("aria-busy"); });
  };
  var timer = null;
  var later = function (part) {
    window.clearTimeout(timer);
    timer = window.setTimeout(function () { swap(part, ""); }, 300);
  };
  document.addEventListener("change", function (ev) {
    var el = ev.target;
    if (el.hasAttribute && el.hasAttribute("data-pick-change")) {
      var model = el.closest("[data-pick]");
      if (model) { swap(model, el.name); }
    }
  });
  var resources = function (ev) {
    var el = ev.target;
    var form = el.form;
    if (!form || !(el.name === "cpu" || el.name === "memory_gb" || el.name === "gpu" || el.hasAttribute("data-pick-resources"))) { return; }
    var part = form.querySelector(".pick-resources[data-pick]");
    if (part) { later(part); }
  };
  document.addEventListener("input", resources);
  document.addEventListener("change", resources);
})();

// Times are sent in UTC; show them in the reader's own time zone. (A
// declaration, so a job page's poll can localise the times it adds.)
function localTime(el) {
  "use strict";
  var d = new Date(el.getAttribute("datetime"));
  if (isNaN(d.getTime())) { return; }
  el.title = el.textContent;
  var opts = {year: "numeric", month: "2-digit", day: "2-digit", hour: "2-digit", minute: "2-digit"};
  if (el.hasAttribute("data-seconds")) { opts.second = "2-digit"; } // log lines
  el.textContent = d.toLocaleString(document.documentElement.lang || undefined, opts);
}
document.querySelectorAll("time[datetime]").forEach(localTime);
