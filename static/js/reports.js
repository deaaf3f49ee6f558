// Report status page: polls /reports/<id>/status until the report is done or failed, and
// shows the "generate again" form when the report can be retried.
(function () {
  "use strict";
  var box = document.getElementById("report-status");
  if (!box) { return; }
  var bar = document.getElementById("report-progress");
  var message = document.getElementById("report-message");
  var files = document.getElementById("report-files");
  var retry = document.getElementById("report-retry");
  var delay = 1000;

  function show(state) {
    var pct = Math.max(0, Math.min(100, state.progress | 0));
    bar.style.width = pct + "%";
    bar.textContent = pct + "%";
    bar.parentNode.setAttribute("aria-valuenow", String(pct));
    box.setAttribute("data-status", state.status);
    if (retry) { retry.hidden = !state.retry; }  // failed, or cut off: generate it again
    if (state.status === "done") {
      message.textContent = box.getAttribute("data-label-done");
      files.textContent = "";
      Object.keys(state.files).forEach(function (fmt) {
        var link = document.createElement("a");
        link.className = "btn btn-sm btn-outline-primary me-2";
        link.href = state.files[fmt];
        link.textContent = fmt.toUpperCase();
        files.appendChild(link);
      });
      if (state.view) {
        var read = document.createElement("a");
        read.className = "btn btn-sm btn-primary";
        read.href = state.view;
        read.textContent = "HTML";
        files.appendChild(read);
      }
    } else if (state.status === "failed") {
      message.textContent = box.getAttribute("data-label-failed") + " " + (state.error || "");
    } else {
      message.textContent = box.getAttribute("data-label-running");
    }
  }

  function poll() {
    fetch(box.getAttribute("data-url"), {headers: {"Accept": "application/json"},
                                          credentials: "same-origin"})
      .then(function (response) { return response.json(); })
      .then(function (state) {
        show(state);
        if (state.status === "pending" || state.status === "running") {
          delay = Math.min(delay * 1.5, 5000);
          window.setTimeout(poll, delay);
        }
      })
      .catch(function () { window.setTimeout(poll, 5000); });
  }

  var current = box.getAttribute("data-status");
  if (current === "pending" || current === "running") { window.setTimeout(poll, 500); }
}());
