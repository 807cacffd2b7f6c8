// Progressive enhancement only: every screen works without this file.
(function () {
  "use strict";

  // Field picker: append the chosen field id to the level's field list.
  document.querySelectorAll(".field-picker select").forEach(function (select) {
    select.addEventListener("change", function () {
      var target = document.getElementById(select.dataset.target);
      if (!target || !select.value) return;
      var fields = target.value.split(",").map(function (f) { return f.trim(); }).filter(Boolean);
      if (fields.indexOf(select.value) === -1) fields.push(select.value);
      target.value = fields.join(", ");
      select.value = "";
    });
  });

  // Copy buttons: <button data-copy="input-id">.
  document.querySelectorAll("button[data-copy]").forEach(function (button) {
    button.addEventListener("click", function (event) {
      event.preventDefault();
      var input = document.getElementById(button.dataset.copy);
      if (!input) return;
      input.select();
      var done = function () { button.textContent = "Copied"; setTimeout(function () { button.textContent = "Copy"; }, 2000); };
      if (navigator.clipboard && window.isSecureContext) navigator.clipboard.writeText(input.value).then(done, function () { document.execCommand("copy"); done(); });
      else { document.execCommand("copy"); done(); }
    });
  });

  // Live page: poll a small JSON state and re-render a macro when its snapshot or job changes.
  var container = document.getElementById("macros");
  if (!container || !container.dataset.liveUrl) return;
  var csrf = (document.cookie.match(/csrftoken=([^;]+)/) || [])[1] || "";

  function refreshBlock(block, page) {
    var url = block.dataset.blockUrl + (page ? "?p=" + page : "");
    return fetch(url, { credentials: "same-origin" }).then(function (r) { return r.ok ? r.text() : null; }).then(function (html) {
      if (!html) return;
      var holder = document.createElement("div");
      holder.innerHTML = html.trim();
      var fresh = holder.firstElementChild;
      block.replaceWith(fresh);
      wire(fresh);
    });
  }

  function wire(block) {
    var form = block.querySelector("form.take-snapshot");
    if (form) form.addEventListener("submit", function (event) {
      event.preventDefault();
      var button = form.querySelector("button"); button.disabled = true;
      fetch(form.action, { method: "POST", credentials: "same-origin", headers: { "X-CSRFToken": csrf, "Accept": "application/json" } })
        .then(function () { return refreshBlock(block); }).then(function () { schedule(500); });
    });
    block.querySelectorAll(".pager a[data-page]").forEach(function (link) {
      link.addEventListener("click", function (event) { event.preventDefault(); refreshBlock(block, link.dataset.page); });
    });
  }
  container.querySelectorAll("section.macro").forEach(wire);

  var timer = null;
  function schedule(ms) { clearTimeout(timer); timer = setTimeout(poll, ms); }
  function poll() {
    fetch(container.dataset.liveUrl, { credentials: "same-origin" }).then(function (r) { return r.ok ? r.json() : null; }).then(function (state) {
      var busy = false, updates = [];
      if (state) Object.keys(state.macros).forEach(function (id) {
        var block = document.getElementById("macro-" + id);
        if (!block) return;
        var s = state.macros[id], job = s.job || {};
        if (job.status === "queued" || job.status === "running") busy = true;
        if (String(s.snapshot || "") !== block.dataset.snapshot || (job.status || "") !== block.dataset.jobStatus
            || String(job.fetched || 0) !== block.dataset.jobFetched) updates.push(refreshBlock(block));
      });
      return Promise.all(updates).then(function () { return busy; });
    }).then(function (busy) { schedule(document.hidden ? 15000 : (busy ? 400 : 3000)); }, function () { schedule(10000); });
  }
  schedule(1000);
})();

// --- automation (Automation tab) ----------------------------------------------------
(function () {
  "use strict";
  // Ticking "Enable automation for this macro" makes the key at once, so it can be
  // copied before Save (without JavaScript, Save does it). Unticking waits for Save.
  var form = document.getElementById("automation-form");
  var box = form && form.querySelector("input[name=enabled]");
  if (box && form.dataset.enabled === "false") {
    box.addEventListener("change", function () {
      if (!box.checked) return;
      form.querySelector("input[name=action]").value = "enable";
      form.submit();
    });
  }
  document.querySelectorAll("button[data-confirm]").forEach(function (button) {
    button.addEventListener("click", function (event) {
      if (!window.confirm(button.dataset.confirm)) event.preventDefault();
    });
  });
})();
