// In-place task updates on "my tasks". The page carries one update form in a <template>;
// "Update" on a card opens a copy of it in that card, filled with the task's address,
// version, status and progress. Saving posts it with Accept: application/json and swaps
// in the re-rendered card. Without this script "Update" is a link to the task page.
(function () {
  "use strict";
  var template = document.getElementById("quick-update-template");
  if (!template) { return; }

  function open(link) {
    var card = link.closest(".task-card");
    var existing = card.querySelector("form.quick-update");
    if (existing) {
      // Tapping "Update" again folds the form away; what was typed stays for next time.
      existing.hidden = !existing.hidden;
      link.setAttribute("aria-expanded", String(!existing.hidden));
      return;
    }
    var form = template.content.firstElementChild.cloneNode(true);
    form.action = link.getAttribute("href").split("#")[0] + "/update";
    form.querySelector("input[name=version]").value = link.dataset.version;
    form.querySelector("select[name=status]").value = link.dataset.status;
    form.querySelector("input[name=progress]").value = link.dataset.progress;
    if (link.dataset.mayUpdate !== "1") {
      // Supporting owners add notes and evidence; status and progress are the lead's.
      form.querySelectorAll(".quick-status").forEach(function (el) { el.remove(); });
    }
    form.querySelector(".quick-close").addEventListener("click", function () {
      form.hidden = true; link.setAttribute("aria-expanded", "false"); link.focus();
    });
    form.addEventListener("submit", function (event) { event.preventDefault(); save(form, link); });
    link.after(form);
    link.setAttribute("aria-expanded", "true");
    form.querySelector("select, textarea").focus();
  }

  function save(form, link) {
    var message = form.querySelector(".quick-message");
    var button = form.querySelector("button[type=submit]");
    button.disabled = true;
    message.className = "quick-message small";
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
        fresh.classList.add("just-saved");
        var link = fresh.querySelector(".quick-open");
        (link || fresh.querySelector("a")).focus();
      } else {
        message.className = "quick-message small text-danger";
        message.textContent = result.body.error || "Error";
        if (result.body.current) {
          // Someone else saved first: keep what the user typed, take the new version
          // (also on the link, should the form be folded away and opened again).
          form.querySelector("input[name=version]").value = result.body.current.version;
          link.dataset.version = result.body.current.version;
        }
      }
    }).catch(function () {
      button.disabled = false;
      message.className = "quick-message small text-danger";
      message.textContent = form.dataset.offline;
    });
  }

  document.addEventListener("click", function (event) {
    var link = event.target.closest("a.quick-open");
    // A modified click (new tab or window) still opens the task page.
    if (!link || event.button !== 0 || event.ctrlKey || event.metaKey || event.shiftKey ||
        event.altKey) { return; }
    event.preventDefault();
    open(link);
  });
})();
