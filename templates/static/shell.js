// The page terminal of a running job: xterm.js (vendored) over the
// portal's WebSocket. Terminal bytes travel as binary messages; control
// messages (resize from here; exit and error from the portal) as JSON text.
(function () {
  "use strict";
  var el = document.getElementById("terminal");
  if (!el || !window.Terminal) { return; }
  var message = document.getElementById("shell-message");
  function say(text, isError) {
    message.textContent = text;
    message.className = isError ? "error shell-message" : "shell-message";
    message.hidden = false;
  }

  var term = new window.Terminal({ cursorBlink: true, fontSize: 14, fontFamily: "monospace", scrollback: 5000 });
  var fit = new window.FitAddon.FitAddon();
  term.loadAddon(fit);
  term.open(el);
  fit.fit();
  say(el.getAttribute("data-connecting"), false);

  var proto = window.location.protocol === "https:" ? "wss://" : "ws://";
  var url = proto + window.location.host + el.getAttribute("data-shell-socket") +
    "&cols=" + term.cols + "&rows=" + term.rows;
  var ws = new WebSocket(url);
  ws.binaryType = "arraybuffer";
  var encoder = new TextEncoder();
  var ended = false;

  ws.addEventListener("open", function () {
    message.hidden = true;
    term.focus();
  });
  ws.addEventListener("message", function (ev) {
    if (typeof ev.data !== "string") {
      term.write(new Uint8Array(ev.data));
      return;
    }
    var c = JSON.parse(ev.data);
    if (c.type === "exit" || c.type === "error") {
      ended = true;
      say(c.message, c.type === "error");
      el.setAttribute("data-ended", c.type);
      if (c.code !== undefined) { el.setAttribute("data-exit-code", String(c.code)); }
    }
  });
  ws.addEventListener("close", function () {
    if (!ended) { say(el.getAttribute("data-lost"), true); }
    term.options.disableStdin = true;
  });

  term.onData(function (data) {
    if (ws.readyState === WebSocket.OPEN) { ws.send(encoder.encode(data)); }
  });
  term.onResize(function (size) {
    if (ws.readyState === WebSocket.OPEN) {
      ws.send(JSON.stringify({ type: "resize", cols: size.cols, rows: size.rows }));
    }
  });
  window.addEventListener("resize", function () { fit.fit(); });

  // Copy: what is selected goes to the clipboard (where the page may use
  // it); paste goes through the browser's own paste, which xterm.js reads.
  term.onSelectionChange(function () {
    var text = term.getSelection();
    if (text && navigator.clipboard && window.isSecureContext) {
      navigator.clipboard.writeText(text).catch(function () {});
    }
  });
})();
