/* Contact list: search by first letters (accents and case ignored, as the server does), select
   all, Modify enabled for exactly one row, Delete with a confirmation dialog, the new
   contact / new group panels, member search in the group form, the import file name. */
(function () {
  "use strict";

  var R = window.relais;
  var form = document.getElementById("contacts-form");
  if (!form) return;

  function fold(s) { return (s || "").normalize("NFKD").replace(/[\u0300-\u036f]/g, "").toLowerCase(); }
  function matches(query, words) {
    var padded = " " + words;
    return fold(query).split(/\s+/).filter(Boolean).every(function (w) { return padded.indexOf(" " + w) >= 0; });
  }

  var rows = Array.prototype.slice.call(form.querySelectorAll("tr[data-row]"));
  var search = form.querySelector("[data-contact-search]");
  var all = form.querySelector("[data-select-all]");
  var edit = form.querySelector("[data-edit]");
  var del = form.querySelector("[data-delete]");
  var noMatch = form.querySelector("[data-no-match]");

  function boxes(visibleOnly) {
    return rows.filter(function (r) { return !visibleOnly || !r.hidden; })
      .map(function (r) { return r.querySelector('input[name="sel"]'); });
  }
  function update() {
    var checked = boxes(false).filter(function (b) { return b.checked; }).length;
    edit.disabled = checked !== 1;
    del.disabled = checked === 0;
    var visible = boxes(true);
    all.checked = visible.length > 0 && visible.every(function (b) { return b.checked; });
    all.indeterminate = !all.checked && visible.some(function (b) { return b.checked; });
    rows.forEach(function (r) { r.classList.toggle("is-selected", r.querySelector('input[name="sel"]').checked); });
  }
  function filter() {
    var q = search.value;
    var any = false;
    rows.forEach(function (r) {
      var ok = !q.trim() || matches(q, r.getAttribute("data-words"));
      r.hidden = !ok;
      any = any || ok;
    });
    if (noMatch) noMatch.hidden = any || rows.length === 0;
    update();
  }
  if (search) {
    search.addEventListener("input", filter);
    search.addEventListener("keydown", function (e) {
      if (e.key !== "Enter") return;
      e.preventDefault();
      /* A list of several pages is searched whole by the server. */
      if (search.hasAttribute("data-search-server")) {
        var q = search.value.trim();
        location.href = "/contacts" + (q ? "?q=" + encodeURIComponent(q) : "");
      }
    });
  }
  all.addEventListener("change", function () {
    boxes(true).forEach(function (b) { b.checked = all.checked; });
    update();
  });
  form.addEventListener("change", function (e) { if (e.target.name === "sel") update(); });
  rows.forEach(function (r) {
    r.addEventListener("click", function (e) {
      if (e.target.closest("input, a, button, label")) return;
      var b = r.querySelector('input[name="sel"]');
      b.checked = !b.checked;
      update();
    });
  });
  filter();

  /* Delete: confirm in a dialog that names what goes. */
  var dialog = document.getElementById("dlg-delete");
  del.addEventListener("click", function (e) {
    if (!dialog) return;
    e.preventDefault();
    var list = dialog.querySelector("[data-delete-names]");
    list.replaceChildren();
    boxes(false).filter(function (b) { return b.checked; }).forEach(function (b) {
      var li = document.createElement("li");
      li.textContent = b.getAttribute("data-name");
      list.appendChild(li);
    });
    R.openDialog(dialog);
  });
  if (dialog) {
    dialog.querySelector("[data-delete-confirm]").addEventListener("click", function () {
      var flag = document.createElement("input");
      flag.type = "hidden"; flag.name = "confirm"; flag.value = "1";
      form.appendChild(flag);
      form.removeAttribute("novalidate");
      HTMLFormElement.prototype.submit.call(form);
    });
  }

  /* New contact / new group: the page grows with the form. */
  document.querySelectorAll("[data-open-editor]").forEach(function (link) {
    link.addEventListener("click", function (e) {
      e.preventDefault();
      var kind = link.getAttribute("data-open-editor");
      document.querySelectorAll("[data-editor]").forEach(function (panel) {
        var open = panel.getAttribute("data-editor") === kind;
        if (open && panel.hidden) {
          var f = panel.querySelector("form");
          var id = f.querySelector('input[name="id"]');
          if (id) { location.assign(link.getAttribute("href")); return; }
          f.reset();
        }
        panel.hidden = !open;
        if (open) {
          panel.scrollIntoView({ block: "start", behavior: "smooth" });
          var first = panel.querySelector("input:not([type=hidden]):not([type=checkbox])");
          if (first) first.focus({ preventScroll: true });
        }
      });
    });
  });
  document.querySelectorAll("[data-editor-close]").forEach(function (link) {
    link.addEventListener("click", function (e) {
      var panel = link.closest("[data-editor]");
      if (panel.querySelector('input[name="id"]') || panel.querySelector("[aria-invalid]")) return; /* reload clears it */
      e.preventDefault();
      panel.hidden = true;
    });
  });

  /* Members of a group: search and count. */
  var memberSearch = document.querySelector("[data-member-search]");
  var memberList = document.querySelector("[data-member-list]");
  var memberCount = document.querySelector("[data-member-count]");
  if (memberSearch && memberList) {
    memberSearch.addEventListener("input", function () {
      memberList.querySelectorAll("li").forEach(function (li) {
        li.hidden = !!memberSearch.value.trim() && !matches(memberSearch.value, li.getAttribute("data-words"));
      });
    });
    memberSearch.addEventListener("keydown", function (e) { if (e.key === "Enter") e.preventDefault(); });
    memberList.addEventListener("change", function () {
      memberCount.textContent = "(" + memberList.querySelectorAll("input:checked").length + ")";
    });
  }

  /* In a dialog, Cancel closes the dialog (the same link leaves the page without script). */
  document.querySelectorAll("dialog a[data-close]").forEach(function (link) {
    link.addEventListener("click", function (e) { e.preventDefault(); });
  });

  /* Import: show the chosen file's name. Export: close the dialog once the download starts. */
  document.querySelectorAll("[data-import-file]").forEach(function (input) {
    input.addEventListener("change", function () {
      var label = input.closest(".file-pick").querySelector("[data-file-name]");
      label.textContent = input.files.length ? input.files[0].name : label.getAttribute("data-none");
    });
  });
  document.querySelectorAll("[data-export-submit]").forEach(function (button) {
    button.addEventListener("click", function () {
      var d = button.closest("dialog");
      if (d) setTimeout(function () { R.closeDialog(d); }, 300);
    });
  });
})();
