// Progressive enhancement only: every screen works without this file.
(function () {
  "use strict";

  // Field picker (macros/templates/macro_configure.html): the level's text box of field
  // ids stays the form's value; this adds search, names as Jira shows them, and a list of
  // the chosen fields to reorder by drag and drop or with buttons and Alt+arrow keys.
  document.querySelectorAll(".field-picker").forEach(function (picker) {
    var select = picker.querySelector("select");
    var target = document.getElementById(select.dataset.target);
    var search = picker.querySelector(".field-search");
    var list = picker.querySelector(".chosen-fields");
    var status = picker.querySelector(".picker-status");
    if (!target) return;
    var names = {};
    Array.prototype.forEach.call(select.options, function (o) { if (o.value) names[o.value] = o.dataset.name || o.value; });
    names.key = names.key || "Key";

    function ids() { return target.value.split(",").map(function (f) { return f.trim(); }).filter(Boolean); }
    function save(fields, focusIndex, message) {
      target.value = fields.join(", ");
      render(focusIndex);
      if (message && status) status.textContent = message;
    }
    function move(from, to) {
      var fields = ids();
      if (to < 0 || to >= fields.length || from === to) return;
      var moved = fields.splice(from, 1)[0];
      fields.splice(to, 0, moved);
      save(fields, to, (names[moved] || moved) + " moved to position " + (to + 1) + " of " + fields.length + ".");
    }
    function button(text, label, onClick) {
      var b = document.createElement("button");
      b.type = "button"; b.className = "link small"; b.textContent = text; b.setAttribute("aria-label", label);
      b.addEventListener("click", onClick);
      return b;
    }
    var dragged = null;
    function render(focusIndex) {
      if (!list) return;
      list.innerHTML = "";
      ids().forEach(function (id, i, all) {
        var name = names[id] || id;
        var item = document.createElement("li");
        item.draggable = true; item.tabIndex = 0; item.dataset.index = i;
        item.setAttribute("aria-label", name + ", field " + (i + 1) + " of " + all.length);
        var label = document.createElement("span"); label.className = "field-name"; label.textContent = name;
        var hint = document.createElement("code"); hint.className = "field-id"; hint.textContent = id;
        item.append("⠿ ", label, " ", hint, " ");
        item.append(button("↑", "Move " + name + " up", function () { move(i, i - 1); }));
        item.append(button("↓", "Move " + name + " down", function () { move(i, i + 1); }));
        item.append(button("✕", "Remove " + name, function () {
          var fields = ids(); fields.splice(i, 1);
          save(fields, Math.min(i, fields.length - 1), name + " removed.");
        }));
        item.addEventListener("keydown", function (e) {
          if (e.target !== item || !e.altKey) return;
          if (e.key === "ArrowUp") { e.preventDefault(); move(i, i - 1); }
          if (e.key === "ArrowDown") { e.preventDefault(); move(i, i + 1); }
        });
        item.addEventListener("dragstart", function (e) { dragged = i; e.dataTransfer.effectAllowed = "move"; e.dataTransfer.setData("text/plain", id); item.classList.add("dragging"); });
        item.addEventListener("dragend", function () { item.classList.remove("dragging"); });
        item.addEventListener("dragover", function (e) { if (dragged !== null) { e.preventDefault(); e.dataTransfer.dropEffect = "move"; } });
        item.addEventListener("drop", function (e) { e.preventDefault(); if (dragged !== null) move(dragged, i); dragged = null; });
        list.append(item);
      });
      if (focusIndex !== undefined && focusIndex >= 0 && list.children[focusIndex]) list.children[focusIndex].focus();
    }
    function add(id) {
      var fields = ids();
      if (fields.indexOf(id) === -1) fields.push(id);
      save(fields, undefined, (names[id] || id) + " added as column " + fields.length + ".");
    }
    select.addEventListener("change", function () { if (select.value) { add(select.value); select.value = ""; } });
    target.addEventListener("input", function () { render(); });
    if (search) {
      search.addEventListener("input", function () {
        var words = search.value.toLowerCase().split(/\s+/).filter(Boolean);
        var shown = 0;
        Array.prototype.forEach.call(select.options, function (o) {
          if (!o.value) return;
          var hay = (o.textContent + " " + o.value).toLowerCase();
          o.hidden = !words.every(function (w) { return hay.indexOf(w) !== -1; });
          if (!o.hidden) shown += 1;
        });
        if (status) status.textContent = words.length ? shown + " field" + (shown === 1 ? "" : "s") + " match." : "";
      });
      search.addEventListener("keydown", function (e) {
        if (e.key !== "Enter") return;
        e.preventDefault();  // not the form's first submit button
        var first = Array.prototype.find.call(select.options, function (o) { return o.value && !o.hidden; });
        if (first) { add(first.value); search.value = ""; search.dispatchEvent(new Event("input")); }
      });
    }
    render();
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
