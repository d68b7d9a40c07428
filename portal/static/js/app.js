/* relais portal: behaviour shared by every page (plain JS, no build step).
   - Links and buttons with data-dialog="<id>" open that <dialog>; [data-close] closes it
     (outside a dialog it goes back).
   - Open menus and popovers (<details>) close on Escape or a click elsewhere.
   - relais.api(method, path, body) calls the JSON API with the session's CSRF token. */
(function () {
  "use strict";

  var meta = function (name) {
    var el = document.querySelector('meta[name="' + name + '"]');
    return el ? el.getAttribute("content") : "";
  };

  function api(method, path, body) {
    var headers = { "X-CSRF-Token": meta("csrf-token"), "Accept": "application/json" };
    var init = { method: method, headers: headers, credentials: "same-origin" };
    if (body instanceof FormData) {
      init.body = body;
    } else if (body !== undefined) {
      headers["Content-Type"] = "application/json";
      init.body = JSON.stringify(body);
    }
    return fetch(path, init).then(function (response) {
      var type = response.headers.get("content-type") || "";
      var parse = type.indexOf("json") >= 0 ? response.json() : Promise.resolve(null);
      return parse.then(function (data) {
        if (!response.ok) {
          var error = new Error((data && data.detail) || response.statusText);
          error.status = response.status;
          error.data = data;
          throw error;
        }
        return data;
      });
    });
  }

  function openDialog(dialog) {
    if (!dialog) return;
    if (typeof dialog.showModal === "function") {
      if (!dialog.open) dialog.showModal();
    } else {
      dialog.setAttribute("open", "");
    }
    var first = dialog.querySelector("input:not([type=hidden]):not([disabled]), textarea, select, button");
    if (first) first.focus();
  }

  function closeDialog(dialog) {
    if (!dialog) return;
    if (typeof dialog.close === "function") dialog.close(); else dialog.removeAttribute("open");
  }

  document.addEventListener("click", function (event) {
    var opener = event.target.closest("[data-dialog]");
    if (opener) {
      var dialog = document.getElementById(opener.getAttribute("data-dialog"));
      if (dialog) {
        event.preventDefault();
        openDialog(dialog);
        return;
      }
    }
    var closer = event.target.closest("[data-close]");
    if (closer) {
      var owner = closer.closest("dialog");
      if (owner) closeDialog(owner); else if (history.length > 1) history.back(); else location.href = "/home";
      return;
    }
    document.querySelectorAll("details.menu[open], details.popover[open]").forEach(function (d) {
      if (!d.contains(event.target)) d.removeAttribute("open");
    });
  });

  document.addEventListener("keydown", function (event) {
    if (event.key !== "Escape") return;
    document.querySelectorAll("details.menu[open], details.popover[open]").forEach(function (d) {
      d.removeAttribute("open");
      var summary = d.querySelector("summary");
      if (summary) summary.focus();
    });
  });

  /* Pick a forwarding number: saved numbers or a temporary one, into the input named by
     data-pick-number. */
  var pickTarget = null;
  document.addEventListener("click", function (event) {
    var button = event.target.closest("[data-pick-number]");
    if (!button) return;
    var dialog = document.getElementById("dlg-pick-number");
    if (!dialog) return;
    event.preventDefault();
    pickTarget = document.getElementById(button.getAttribute("data-pick-number"));
    dialog.querySelectorAll('input[name="pick-saved"]').forEach(function (r) {
      r.checked = !!pickTarget && r.value === pickTarget.value.replace(/\D/g, "");
    });
    var temp = dialog.querySelector("#pick-temporary");
    if (temp) temp.value = "";
    openDialog(dialog);
  });
  document.addEventListener("click", function (event) {
    if (!event.target.closest("[data-pick-confirm]")) return;
    var dialog = event.target.closest("dialog");
    var temp = dialog.querySelector("#pick-temporary");
    var chosen = dialog.querySelector('input[name="pick-saved"]:checked');
    var value = temp && temp.value.trim() ? temp.value.trim() : (chosen ? chosen.value : "");
    if (pickTarget && value) {
      pickTarget.value = value;
      pickTarget.dispatchEvent(new Event("change", { bubbles: true }));
      /* Picking a number for an option selects that option. */
      var choice = pickTarget.closest(".choice--with-field");
      var radio = choice && choice.querySelector('input[type="radio"]');
      if (radio) radio.checked = true;
      var option = pickTarget.closest(".option");
      var box = option && option.querySelector('.check input[type="checkbox"]');
      if (box) box.checked = true;
    }
    closeDialog(dialog);
    if (pickTarget) pickTarget.focus();
  });

  /* Password and PIN dialogs: the form is sent in the background; a refusal shows its
     errors next to the fields, in the dialog, and a success goes where the page would. */
  document.addEventListener("submit", function (event) {
    var form = event.target;
    if (!form.closest("dialog") || (form.getAttribute("action") || "").indexOf("/security/") !== 0) return;
    event.preventDefault();
    /* A success answers with a redirect (and its flash cookie): go to the form's next page. */
    var init = { method: "POST", body: new FormData(form), credentials: "same-origin", redirect: "manual" };
    fetch(form.action, init)
      .then(function (response) {
        if (response.type === "opaqueredirect" || response.ok) {
          var next = form.querySelector('input[name="next"]');
          location.href = (next && next.value) || "/home";
          return null;
        }
        return response.text().then(function (html) {
          var doc = new DOMParser().parseFromString(html, "text/html");
          var errors = doc.querySelectorAll(".field-error[data-field]");
          if (!errors.length) { document.open(); document.write(html); document.close(); return; }
          form.querySelectorAll(".field-error").forEach(function (e) { e.remove(); });
          form.querySelectorAll("[aria-invalid]").forEach(function (i) {
            i.removeAttribute("aria-invalid");
            i.removeAttribute("aria-describedby");
          });
          var first = null;
          errors.forEach(function (e) {
            var name = e.getAttribute("data-field");
            var input = form.querySelector('[name="' + name + '"]');
            if (!input) return;
            var copy = document.importNode(e, true);
            copy.id = input.id + "-error";
            input.setAttribute("aria-invalid", "true");
            input.setAttribute("aria-describedby", copy.id);
            input.closest(".field").appendChild(copy);
            first = first || input;
          });
          if (first) first.focus();
        });
      })
      .catch(function () { form.submit(); });
  });

  window.relais = { api: api, meta: meta, openDialog: openDialog, closeDialog: closeDialog };
})();
