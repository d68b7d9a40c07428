/* Notifications page: MWI and e-mail tables ("New entry" dialog, X, "Clear list") and the
   schedule editors (days x time ranges). The page posts a plain form on Apply. */
(function () {
  "use strict";

  var EMAIL = /^[^\s@]+@[^\s@]+\.[^\s@]+$/;

  document.querySelectorAll("[data-targets]").forEach(function (box) {
    var channel = box.getAttribute("data-targets");
    var list = box.querySelector("[data-target-list]");
    var rows = box.querySelector("[data-target-rows]");
    var template = box.querySelector("[data-target-template]");
    var dialog = box.querySelector("[data-target-dialog]");
    var input = dialog.querySelector("[data-target-input]");
    var error = dialog.querySelector("[data-target-error]");
    var empty = box.querySelector("[data-target-empty]");

    function refresh() { empty.hidden = list.rows.length > 0; }
    function valid(v) {
      if (channel === "email") return EMAIL.test(v);
      var d = v.replace(/\D/g, "");
      if (d.length === 11 && d[0] === "1") d = d.slice(1);
      return d.length === 10;
    }
    function add() {
      var v = input.value.trim();
      if (!valid(v)) { error.hidden = false; input.focus(); return; }
      var i = parseInt(rows.value, 10) || 0;
      rows.value = String(i + 1);
      var t = document.createElement("template");
      t.innerHTML = "<table><tbody>" + template.innerHTML.replace(/__i__/g, i) + "</tbody></table>";
      var tr = t.content.querySelector("tr");
      tr.querySelector('input[type="hidden"]').value = v;
      tr.querySelector("[data-target-value]").textContent = v;
      tr.querySelectorAll("[aria-label]").forEach(function (el) {
        el.setAttribute("aria-label", el.getAttribute("aria-label").replace("__value__", v));
      });
      list.appendChild(tr);
      var enable = document.getElementById(channel + "_enabled");
      if (enable) enable.checked = true;
      window.relais.closeDialog(dialog);
      refresh();
    }
    box.querySelector("[data-target-new]").addEventListener("click", function () {
      input.value = "";
      error.hidden = true;
      window.relais.openDialog(dialog);
    });
    dialog.querySelector("[data-target-add]").addEventListener("click", add);
    input.addEventListener("keydown", function (e) { if (e.key === "Enter") { e.preventDefault(); add(); } });
    box.querySelector("[data-target-clear]").addEventListener("click", function () {
      while (list.rows.length) list.deleteRow(0);
      refresh();
    });
    list.addEventListener("click", function (e) {
      var x = e.target.closest("[data-target-remove]");
      if (x) { x.closest("tr").remove(); refresh(); }
    });
  });

  document.querySelectorAll("[data-schedule]").forEach(function (box) {
    var rows = box.querySelector("[data-schedule-rows]");
    var list = box.querySelector("[data-schedule-list]");
    var template = box.querySelector("[data-schedule-template]");
    var summary = box.querySelector("[data-schedule-summary]");
    function refresh() {
      var n = list.querySelectorAll("[data-schedule-row]").length;
      summary.textContent = n ? summary.dataset.ranges.replace("__n__", String(n)) : summary.dataset.always;
    }
    box.querySelector("[data-schedule-add]").addEventListener("click", function () {
      var i = parseInt(rows.value, 10) || 0;
      rows.value = String(i + 1);
      var t = document.createElement("template");
      t.innerHTML = template.innerHTML.replace(/__i__/g, i);
      list.appendChild(t.content);
      refresh();
    });
    list.addEventListener("click", function (e) {
      var x = e.target.closest("[data-schedule-remove]");
      if (x) { x.closest("[data-schedule-row]").remove(); refresh(); }
    });
  });
})();
