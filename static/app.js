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

  // The block's own URL reads the page's query string: filter, sort, page and open levels
  // of every macro live there, so a refreshed block keeps what the reader was looking at.
  function refreshBlock(block) {
    return fetch(block.dataset.blockUrl + location.search, { credentials: "same-origin" }).then(function (r) { return r.ok ? r.text() : null; }).then(function (html) {
      if (!html) return;
      var fresh = parseBlock(html);
      block.replaceWith(fresh);
      wire(fresh);
    });
  }

  function parseBlock(html) {
    var holder = document.createElement("div");
    holder.innerHTML = html.trim();
    return holder.firstElementChild;
  }

  // Filter, sort, page, open and close levels in place: fetch the block for the new
  // address, swap the table (not the filter box, which keeps focus), and put the address
  // in the location bar so it can be shared. Without JavaScript the same links and the
  // filter form load the page.
  var latest = {};
  function showState(block, search) {
    var id = block.id, ticket = (latest[id] || 0) + 1;
    latest[id] = ticket;
    block.classList.add("loading");
    return fetch(block.dataset.blockUrl + search, { credentials: "same-origin" }).then(function (r) { return r.ok ? r.text() : null; }).then(function (html) {
      if (!html || latest[id] !== ticket) return;
      block.classList.remove("loading");
      var fresh = parseBlock(html);
      var area = block.querySelector(".table-area"), freshArea = fresh.querySelector(".table-area");
      if (!area || !freshArea || fresh.dataset.snapshot !== block.dataset.snapshot) { block.replaceWith(fresh); wire(fresh); }
      else {
        area.replaceWith(freshArea);
        var form = block.querySelector("form.table-filter"), freshForm = fresh.querySelector("form.table-filter");
        if (form && freshForm) {
          form.querySelectorAll("input[type=hidden]").forEach(function (input) { input.remove(); });
          freshForm.querySelectorAll("input[type=hidden]").forEach(function (input) { form.insertBefore(input, form.firstChild); });
        }
        wireTable(block);
      }
      history.replaceState(null, "", location.pathname + search + "#" + id);
    });
  }

  function wireTable(block) {
    block.querySelectorAll(".table-area a[data-table-link]").forEach(function (link) {
      link.addEventListener("click", function (event) {
        if (event.metaKey || event.ctrlKey || event.shiftKey) return;
        event.preventDefault();
        showState(block, new URL(link.href, location.href).search);
      });
      if (link.getAttribute("role") === "button") link.addEventListener("keydown", function (event) {
        if (event.key === " ") { event.preventDefault(); link.click(); }
      });
    });
    block.querySelectorAll("button.group-toggle").forEach(function (button) {
      button.hidden = false;
      button.addEventListener("click", function () {
        var open = button.getAttribute("aria-expanded") !== "true";
        button.setAttribute("aria-expanded", String(open));
        button.textContent = open ? "▾" : "▸";
        button.setAttribute("aria-label", (open ? "Collapse" : "Expand") + button.getAttribute("aria-label").replace(/^\S+/, ""));
        block.querySelectorAll('tr[data-group-row="' + button.dataset.group + '"]').forEach(function (row) { row.hidden = !open; });
      });
    });
  }

  function wireFilter(block) {
    var form = block.querySelector("form.table-filter");
    if (!form) return;
    var input = form.querySelector("input[type=search]"), prefix = form.dataset.prefix, timer = null;
    function apply() {
      var params = new URLSearchParams(location.search);
      if (input.value.trim()) params.set("q" + prefix, input.value.trim()); else params.delete("q" + prefix);
      params.delete("p" + prefix);
      var search = params.toString();
      showState(block, search ? "?" + search : "");
    }
    form.addEventListener("submit", function (event) { event.preventDefault(); clearTimeout(timer); apply(); });
    input.addEventListener("input", function () { clearTimeout(timer); timer = setTimeout(apply, 300); });
  }

  function wire(block) {
    var form = block.querySelector("form.take-snapshot");
    if (form) form.addEventListener("submit", function (event) {
      event.preventDefault();
      var button = form.querySelector("button"); button.disabled = true;
      fetch(form.action, { method: "POST", credentials: "same-origin", headers: { "X-CSRFToken": csrf, "Accept": "application/json" } })
        .then(function () { return refreshBlock(block); }).then(function () { schedule(500); });
    });
    wireTable(block);
    wireFilter(block);
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
