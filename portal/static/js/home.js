/* Home and call-settings pages: the UCN table editor (handles and a dialog per cell), the
   forward/reject list editors with the contact picker, and the "what happens if" preview.
   Everything edits ordinary form inputs: the page still posts a plain form on Apply. */
(function () {
  "use strict";

  var MIN = 5, MAX = 120, DEFAULT = 20;

  function clamp(v) { return Math.max(MIN, Math.min(MAX, v)); }
  function digits(s) { return String(s || "").replace(/\D/g, ""); }
  /* (613) 555-0100 for a 10-digit number, as the server writes them; others as typed. */
  function shown(s) {
    var d = digits(s);
    if (d.length === 11 && d[0] === "1") d = d.slice(1);
    if (d.length !== 10 || /[^\d\s().+-]/.test(s)) return s;
    return "(" + d.slice(0, 3) + ") " + d.slice(3, 6) + "-" + d.slice(6);
  }

  /* ------------------------------------------------------------------ UCN table */

  function Ucn(root) {
    this.root = root;
    this.table = root.querySelector(".ucn__table");
    this.maxStages = parseInt(root.getAttribute("data-max-stages"), 10) || 6;
    this.maxRows = parseInt(root.getAttribute("data-max-rows"), 10) || 11;
    this.rowsInput = root.querySelector('input[name="ucn_rows"]');
    this.rowTemplate = root.querySelector("template[data-ucn-row]");
    this.cellTemplate = root.querySelector("template[data-ucn-cell]");
    this.dialog = document.getElementById("dlg-ucn-cell");
    this.current = null;
    root.classList.add("is-enhanced");
    var self = this;
    this.table.querySelectorAll(".ucn__cell").forEach(function (td) { self.enhance(td); });
    root.querySelector("[data-ucn-add-column]").addEventListener("click", function () { self.addColumn(); });
    root.querySelector("[data-ucn-add]").addEventListener("click", function () { self.addRow(); });
    root.querySelector("#ucn-new-number").addEventListener("keydown", function (e) {
      if (e.key === "Enter") { e.preventDefault(); self.addRow(); }
    });
    this.table.addEventListener("click", function (e) {
      var rm = e.target.closest("[data-ucn-remove]");
      if (rm) { rm.closest("tr").remove(); self.refresh(); }
    });
    this.bindDialog();
    this.refresh();
  }

  Ucn.prototype.columns = function () {
    return this.table.querySelectorAll("thead .ucn__stage").length;
  };

  Ucn.prototype.refresh = function () {
    var button = this.root.querySelector("[data-ucn-add-column]");
    button.disabled = this.columns() >= this.maxStages;
    var add = this.root.querySelector("[data-ucn-add]");
    add.disabled = this.table.tBodies[0].rows.length >= this.maxRows;
  };

  Ucn.prototype.enhance = function (td) {
    var input = td.querySelector(".input--cell");
    if (!input || td.querySelector(".cellbar")) return;
    var bar = document.createElement("div");
    bar.className = "cellbar";
    bar.innerHTML = '<div class="cellbar__track"><div class="cellbar__fill"></div>' +
      '<span class="cellbar__handle" role="slider" tabindex="0"></span></div>' +
      '<span class="cellbar__label"></span>';
    td.insertBefore(bar, input);
    var handle = bar.querySelector(".cellbar__handle");
    handle.setAttribute("aria-valuemin", MIN);
    handle.setAttribute("aria-valuemax", MAX);
    handle.setAttribute("aria-label", input.getAttribute("aria-label") || "");
    var self = this;
    var dragged = false;

    function fromPointer(e) {
      var rect = bar.querySelector(".cellbar__track").getBoundingClientRect();
      var ratio = (e.clientX - rect.left) / rect.width;
      return clamp(Math.round(MIN + ratio * (MAX - MIN)));
    }
    handle.addEventListener("pointerdown", function (e) {
      e.preventDefault();
      dragged = false;
      handle.setPointerCapture(e.pointerId);
      handle.focus();
    });
    handle.addEventListener("pointermove", function (e) {
      if (!handle.hasPointerCapture(e.pointerId)) return;
      dragged = true;
      self.set(input, fromPointer(e));
    });
    handle.addEventListener("pointerup", function (e) {
      if (handle.hasPointerCapture(e.pointerId)) handle.releasePointerCapture(e.pointerId);
    });
    handle.addEventListener("keydown", function (e) {
      var v = parseInt(input.value, 10) || DEFAULT;
      var step = { ArrowRight: 1, ArrowUp: 1, ArrowLeft: -1, ArrowDown: -1, PageUp: 10, PageDown: -10 }[e.key];
      if (step) { e.preventDefault(); self.set(input, clamp(v + step)); }
      else if (e.key === "Home") { e.preventDefault(); self.set(input, MIN); }
      else if (e.key === "End") { e.preventDefault(); self.set(input, MAX); }
      else if (e.key === "Enter") { e.preventDefault(); self.openDialog(input); }
      else if (e.key === "Delete" || e.key === "Backspace") { e.preventDefault(); self.set(input, null); }
    });
    bar.addEventListener("click", function (e) {
      if (dragged) { dragged = false; return; }
      if (e.target === handle) return;
      self.openDialog(input);
    });
    bar.addEventListener("keydown", function (e) {
      if (e.target === bar && (e.key === "Enter" || e.key === " ")) { e.preventDefault(); self.openDialog(input); }
    });
    this.render(input);
  };

  Ucn.prototype.set = function (input, value) {
    input.value = value === null ? "" : String(value);
    this.render(input);
  };

  Ucn.prototype.render = function (input) {
    var bar = input.parentNode.querySelector(".cellbar");
    if (!bar) return;
    var raw = input.value.trim();
    var v = parseInt(raw, 10);
    var handle = bar.querySelector(".cellbar__handle");
    var label = bar.querySelector(".cellbar__label");
    var fill = bar.querySelector(".cellbar__fill");
    if (raw === "" || isNaN(v)) {
      bar.classList.remove("is-set");
      handle.hidden = true;
      fill.style.width = "0";
      label.innerHTML = '<span class="cellbar__plus" aria-hidden="true">+</span>';
      bar.setAttribute("role", "button");
      bar.setAttribute("tabindex", "0");
      bar.setAttribute("aria-label", input.getAttribute("aria-label") || "");
      bar.dataset.value = "";
      return;
    }
    var pct = ((clamp(v) - MIN) / (MAX - MIN)) * 100;
    bar.classList.add("is-set");
    bar.removeAttribute("role");
    bar.removeAttribute("tabindex");
    bar.removeAttribute("aria-label");
    handle.hidden = false;
    handle.style.left = pct + "%";
    fill.style.width = pct + "%";
    label.textContent = v + " s";
    handle.setAttribute("aria-valuenow", v);
    handle.setAttribute("aria-valuetext", v + " s");
    bar.dataset.value = String(v);
  };

  Ucn.prototype.bindDialog = function () {
    var d = this.dialog, self = this;
    if (!d) return;
    var range = d.querySelector("#cell-range"), number = d.querySelector("#cell-seconds");
    var error = d.querySelector("[data-cell-error]");
    range.addEventListener("input", function () { number.value = range.value; error.hidden = true; });
    number.addEventListener("input", function () {
      var v = parseInt(number.value, 10);
      if (!isNaN(v)) range.value = clamp(v);
      error.hidden = true;
    });
    d.querySelector("[data-cell-ok]").addEventListener("click", function () {
      var v = parseInt(number.value, 10);
      if (isNaN(v) || v < MIN || v > MAX) { error.hidden = false; number.focus(); return; }
      self.set(self.current, v);
      var remote = self.current.closest("tr").querySelector('input[name$="-remote"]');
      if (remote) remote.checked = d.querySelector("#cell-remote").checked;
      window.relais.closeDialog(d);
    });
    d.querySelector("[data-cell-clear]").addEventListener("click", function () {
      self.set(self.current, null);
      window.relais.closeDialog(d);
    });
    number.addEventListener("keydown", function (e) {
      if (e.key === "Enter") { e.preventDefault(); d.querySelector("[data-cell-ok]").click(); }
    });
  };

  Ucn.prototype.openDialog = function (input) {
    var d = this.dialog;
    this.current = input;
    var v = parseInt(input.value, 10);
    if (isNaN(v)) v = DEFAULT;
    d.querySelector("#cell-range").value = clamp(v);
    d.querySelector("#cell-seconds").value = v;
    d.querySelector("[data-cell-error]").hidden = true;
    var row = input.closest("tr");
    var remote = row.querySelector('input[name$="-remote"]');
    d.querySelector("#cell-remote").checked = !!(remote && remote.checked);
    d.querySelector("[data-cell-where]").textContent = input.getAttribute("aria-label") || "";
    window.relais.openDialog(d);
    d.querySelector("#cell-seconds").select();
  };

  Ucn.prototype.cell = function (row, k, label) {
    var html = this.cellTemplate.innerHTML
      .replace(/__i__/g, row).replace(/__k__/g, k).replace(/__col__/g, k + 1)
      .replace(/__label__/g, label);
    var t = document.createElement("template");
    t.innerHTML = "<table><tr>" + html + "</tr></table>";
    return t.content.querySelector("td");
  };

  Ucn.prototype.addColumn = function () {
    var k = this.columns();
    if (k >= this.maxStages) return;
    var th = document.createElement("th");
    th.scope = "col";
    th.className = "ucn__stage";
    th.textContent = String(k + 1);
    var heads = this.table.tHead.rows[0];
    heads.insertBefore(th, heads.querySelector(".ucn__remote-head"));
    var self = this;
    Array.prototype.forEach.call(this.table.tBodies[0].rows, function (tr) {
      var td = self.cell(tr.getAttribute("data-row"), k, tr.getAttribute("data-label") || "");
      tr.insertBefore(td, tr.querySelector(".ucn__remote"));
      self.enhance(td);
    });
    this.refresh();
  };

  Ucn.prototype.addRow = function () {
    var input = this.root.querySelector("#ucn-new-number");
    var value = input.value.trim();
    if (!value) { input.focus(); return; }
    if (this.table.tBodies[0].rows.length >= this.maxRows) return;
    var i = parseInt(this.rowsInput.value, 10) || 0;
    this.rowsInput.value = String(i + 1);
    var html = this.rowTemplate.innerHTML.replace(/__i__/g, i)
      .replace(/__number__/g, escapeHtml(value)).replace(/__label__/g, escapeHtml(value));
    var t = document.createElement("template");
    t.innerHTML = "<table><tbody>" + html + "</tbody></table>";
    var tr = t.content.querySelector("tr");
    var cols = this.columns();
    for (var k = 0; k < cols; k++) {
      var td = this.cell(i, k, value);
      if (k === 0) td.querySelector("input").value = String(DEFAULT);
      tr.insertBefore(td, tr.querySelector(".ucn__remote"));
    }
    this.table.tBodies[0].appendChild(tr);
    var self = this;
    tr.querySelectorAll(".ucn__cell").forEach(function (td) { self.enhance(td); });
    input.value = "";
    this.refresh();
  };

  function escapeHtml(s) {
    return String(s).replace(/[&<>"']/g, function (c) {
      return { "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" }[c];
    });
  }

  /* ------------------------------------------------------------------ lists */

  var contactsTarget = null;

  function listAdd(editor, values) {
    var name = editor.getAttribute("data-list");
    var items = editor.querySelector("[data-list-items]");
    var have = {};
    items.querySelectorAll('input[type="hidden"]').forEach(function (h) { have[digits(h.value)] = true; });
    values.forEach(function (raw) {
      var v = raw.trim();
      if (!v || have[digits(v)]) return;
      have[digits(v)] = true;
      var li = document.createElement("li");
      li.className = "chip";
      var hidden = document.createElement("input");
      hidden.type = "hidden"; hidden.name = name; hidden.value = v;
      var span = document.createElement("span");
      span.className = "number"; span.textContent = shown(v);
      var x = document.createElement("button");
      x.type = "button"; x.className = "chip__x"; x.setAttribute("data-list-remove", "");
      x.setAttribute("aria-label", (editor.getAttribute("data-remove-label") || "×").replace("__n__", v));
      x.textContent = "×";
      li.appendChild(hidden); li.appendChild(span); li.appendChild(x);
      items.appendChild(li);
    });
    listCount(editor);
  }

  function listCount(editor) {
    var n = editor.querySelectorAll("[data-list-items] .chip").length;
    editor.querySelector("[data-list-count]").textContent = String(n);
    editor.querySelector("[data-list-empty]").hidden = n > 0;
  }

  document.querySelectorAll("[data-list]").forEach(function (editor) {
    var field = editor.querySelector('input[id$="_add"]');
    function addTyped() {
      listAdd(editor, field.value.split(/[,;\n]+/));
      field.value = "";
      field.focus();
    }
    editor.querySelector("[data-list-add]").addEventListener("click", addTyped);
    field.addEventListener("keydown", function (e) {
      if (e.key === "Enter") { e.preventDefault(); addTyped(); }
    });
    editor.addEventListener("click", function (e) {
      var x = e.target.closest("[data-list-remove]");
      if (x) { x.closest(".chip").remove(); listCount(editor); }
      if (e.target.closest("[data-pick-contacts]")) {
        contactsTarget = editor;
        var d = document.getElementById("dlg-contacts");
        d.querySelectorAll("[data-contact-number]").forEach(function (c) { c.checked = false; });
        window.relais.openDialog(d);
      }
    });
  });

  var contactsDialog = document.getElementById("dlg-contacts");
  if (contactsDialog) {
    contactsDialog.querySelector("[data-contacts-add]").addEventListener("click", function () {
      var chosen = [];
      contactsDialog.querySelectorAll("[data-contact-number]:checked").forEach(function (c) { chosen.push(c.value); });
      if (contactsTarget) listAdd(contactsTarget, chosen);
      window.relais.closeDialog(contactsDialog);
    });
  }

  /* ------------------------------------------------------------------ preview */

  var previewForm = document.querySelector("form[data-preview]");
  if (previewForm) {
    var anonymous = previewForm.querySelector('input[name="anonymous"]');
    var caller = previewForm.querySelector('input[name="caller"]');
    anonymous.addEventListener("change", function () { caller.disabled = anonymous.checked; });
    caller.disabled = anonymous.checked;
    previewForm.addEventListener("submit", function (e) {
      e.preventDefault();
      var params = new URLSearchParams();
      if (anonymous.checked) params.set("anonymous", "on"); else params.set("caller", caller.value);
      var out = document.getElementById("preview-result");
      out.setAttribute("aria-busy", "true");
      fetch("/home/preview?" + params.toString(), { credentials: "same-origin" })
        .then(function (r) { return r.text(); })
        .then(function (html) { out.innerHTML = html; out.removeAttribute("aria-busy"); });
    });
  }

  var ucnRoot = document.querySelector("[data-ucn]");
  if (ucnRoot) {
    new Ucn(ucnRoot);
    /* The table matters only when the phones ring one after another or all at once. */
    var modes = document.querySelectorAll('input[name="incoming_mode"]');
    var syncUcn = function () {
      var mode = document.querySelector('input[name="incoming_mode"]:checked');
      var used = mode && (mode.value === "sequential" || mode.value === "simultaneous");
      ucnRoot.hidden = !used && !ucnRoot.querySelector(".field-error");
    };
    modes.forEach(function (m) { m.addEventListener("change", syncUcn); });
    syncUcn();
  }
})();
