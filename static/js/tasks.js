// In-place task updates on "my tasks": post the form, swap in the re-rendered card.
// Without this script the same forms post normally and the page reloads.
(function () {
  "use strict";
  function bind(root) {
    root.querySelectorAll("form.quick-update").forEach(function (form) {
      form.addEventListener("submit", function (event) {
        event.preventDefault();
        var message = form.querySelector(".quick-message");
        var button = form.querySelector("button[type=submit]");
        button.disabled = true;
        message.textContent = "…";
        fetch(form.action, {
          method: "POST", body: new FormData(form), credentials: "same-origin",
          headers: { "Accept": "application/json" }
        }).then(function (response) {
          return response.json().then(function (body) { return { status: response.status, body: body }; });
        }).then(function (result) {
          button.disabled = false;
          if (result.body.ok) {
            var card = form.closest(".task-card");
            var holder = document.createElement("div");
            holder.innerHTML = result.body.card;
            var fresh = holder.firstElementChild;
            card.replaceWith(fresh);
            bind(fresh);
            fresh.classList.add("just-saved");
          } else {
            message.className = "quick-message small text-danger";
            message.textContent = result.body.error || "Error";
            if (result.body.current) {
              // Someone else saved first: keep what the user typed, take the new version.
              form.querySelector("input[name=version]").value = result.body.current.version;
            }
          }
        }).catch(function () {
          button.disabled = false;
          message.className = "quick-message small text-danger";
          message.textContent = form.dataset.offline || "Network error: nothing was saved. Try again.";
        });
      });
    });
  }
  bind(document);
})();
