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
        li.textContent = "#" + row.getAttribute("data-id") + " " + row.getAttribute("data-name");
        li.setAttribute("data-id", row.getAttribute("data-id"));
        li.addEventListener("dragstart", function (e) {
          e.dataTransfer.setData("text/plain", row.getAttribute("data-id"));
        });
        (lists[sel.value] || lists[""]).appendChild(li);
      });
    };
    table.addEventListener("change", render);
    board.hidden = false;
    render();
  }
})();
