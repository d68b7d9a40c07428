/* Messages page: play in the page (seek on the waveform; playing marks heard), the dialogs
   to reply, forward and send new voice messages (record with MediaRecorder, or a file), the
   contact pickers, "add to contacts", confirmations, and live updates from the line's
   server-sent events (new messages appear without a reload; a playing message keeps playing).
   Everything here also works without script, more slowly: links and forms reach the server. */
(function () {
  "use strict";

  var R = window.relais;
  var line = R.meta("line");
  var i18nEl = document.querySelector("[data-i18n]");
  var text = i18nEl ? i18nEl.dataset : {};
  var api = "/api/v1/lines/" + line + "/messages";

  function flashAndGo(code, url) {
    document.cookie = "relais_flash=" + code + "; path=/; max-age=60; samesite=lax";
    location.assign(url || location.pathname);
  }

  /* ------------------------------------------------------------------ player */

  var current = null; /* the row whose audio is open */

  function rowOf(el) { return el.closest("[data-id]"); }

  function markHeard(row) {
    var play = row.querySelector("[data-play], [data-view-fax]");
    if (!play || play.getAttribute("data-heard") === "true") return;
    play.setAttribute("data-heard", "true");
    row.classList.remove("is-new");
    var dot = row.querySelector(".dot");
    if (dot) dot.remove();
    R.api("PATCH", api + "/" + row.getAttribute("data-id"), { heard: true }).then(refreshSoon, function () {});
  }

  function audioOf(row, create) {
    var player = row.querySelector("[data-player]");
    if (!player) return null;
    var audio = player.querySelector("audio");
    if (!audio && create) {
      audio = document.createElement("audio");
      audio.controls = true;
      audio.preload = "auto";
      audio.src = row.querySelector("[data-play]").getAttribute("data-play");
      player.appendChild(audio);
      var progress = row.querySelector("[data-wave-progress]");
      audio.addEventListener("timeupdate", function () {
        if (progress && audio.duration) progress.style.width = (100 * audio.currentTime / audio.duration) + "%";
      });
      audio.addEventListener("play", function () {
        if (current && current !== row) { var other = audioOf(current, false); if (other) other.pause(); }
        current = row;
        row.classList.add("is-playing");
      });
      audio.addEventListener("playing", function () { markHeard(row); });
      audio.addEventListener("pause", function () { row.classList.remove("is-playing"); });
      audio.addEventListener("ended", function () { row.classList.remove("is-playing"); });
    }
    if (audio) { player.hidden = false; row.classList.add("is-open"); }
    return audio;
  }

  document.addEventListener("click", function (event) {
    var play = event.target.closest("[data-play]");
    if (play) {
      event.preventDefault();
      var audio = audioOf(rowOf(play), true);
      if (audio.paused) audio.play(); else audio.pause();
      return;
    }
    var wave = event.target.closest("[data-wave]");
    if (wave && rowOf(wave).querySelector("[data-play]")) {
      var a = audioOf(rowOf(wave), true);
      var box = wave.getBoundingClientRect();
      var fraction = Math.min(1, Math.max(0, (event.clientX - box.left) / box.width));
      var seek = function () { a.currentTime = fraction * a.duration; if (a.paused) a.play(); };
      if (a.readyState >= 1 && isFinite(a.duration)) seek(); else a.addEventListener("loadedmetadata", seek, { once: true });
      return;
    }
    var fax = event.target.closest("[data-view-fax]");
    if (fax) markHeard(rowOf(fax)); /* the PDF opens in a new tab */
  });

  /* ------------------------------------------------------------------ recorder */

  function setupRecorder(el) {
    if (el._ready) return;
    el._ready = true;
    var start = el.querySelector("[data-rec-start]");
    var stopBtn = el.querySelector("[data-rec-stop]");
    var time = el.querySelector("[data-rec-time]");
    var status = el.querySelector("[data-rec-status]");
    var audio = el.querySelector("[data-rec-audio]");
    var file = el.querySelector("[data-rec-file]");
    var fileName = el.querySelector("[data-file-name]");
    var idle = status.textContent;
    var recorder = null, stream = null, chunks = [], timer = null, started = 0, url = null;
    var dialog = el.closest("[data-max-seconds]");
    var max = parseInt((document.querySelector("[data-max-seconds]") || el).getAttribute("data-max-seconds"), 10) || 180;

    function show(src) {
      if (url && url !== src) URL.revokeObjectURL(url);
      url = src;
      if (src) { audio.src = src; audio.hidden = false; } else { audio.removeAttribute("src"); audio.hidden = true; }
    }
    function stop() {
      if (recorder && recorder.state !== "inactive") recorder.stop();
      clearInterval(timer);
    }
    el._reset = function () {
      stop();
      el._blob = null;
      file.value = "";
      fileName.textContent = "";
      status.textContent = idle;
      start.hidden = false;
      stopBtn.hidden = true;
      show(null);
    };
    el._stop = stop;
    start.addEventListener("click", function () {
      if (!navigator.mediaDevices || !window.MediaRecorder) { status.textContent = text.noMic; return; }
      navigator.mediaDevices.getUserMedia({ audio: true }).then(function (s) {
        stream = s;
        chunks = [];
        recorder = new MediaRecorder(stream);
        recorder.addEventListener("dataavailable", function (e) { if (e.data && e.data.size) chunks.push(e.data); });
        recorder.addEventListener("stop", function () {
          stream.getTracks().forEach(function (t) { t.stop(); });
          el._blob = new Blob(chunks, { type: recorder.mimeType || "audio/webm" });
          file.value = "";
          fileName.textContent = "";
          show(URL.createObjectURL(el._blob));
          start.hidden = false;
          stopBtn.hidden = true;
          status.textContent = text.recorded;
        });
        recorder.start(250);
        started = Date.now();
        time.textContent = "0:00";
        timer = setInterval(function () {
          var sec = Math.floor((Date.now() - started) / 1000);
          time.textContent = Math.floor(sec / 60) + ":" + ("0" + (sec % 60)).slice(-2);
          if (sec >= max) stop();
        }, 250);
        start.hidden = true;
        stopBtn.hidden = false;
        status.textContent = text.recording;
        stopBtn.focus();
      }).catch(function () { status.textContent = text.noMic; });
    });
    stopBtn.addEventListener("click", stop);
    file.addEventListener("change", function () {
      if (!file.files.length) return;
      el._blob = null;
      fileName.textContent = file.files[0].name;
      show(URL.createObjectURL(file.files[0]));
      status.textContent = "";
    });
    void dialog;
  }
  document.querySelectorAll("[data-recorder]").forEach(setupRecorder);

  /* ------------------------------------------------------------------ send dialogs */

  function showError(form, message) {
    var box = form.querySelector("[data-send-error]");
    box.className = "alert alert--error";
    box.textContent = message || "";
    box.hidden = !message;
  }

  document.addEventListener("click", function (event) {
    var opener = event.target.closest("[data-send]");
    if (!opener) return;
    var kind = opener.getAttribute("data-send");
    var dialog = document.getElementById("dlg-" + kind);
    if (!dialog) return;
    event.preventDefault();
    var menu = opener.closest("details");
    if (menu) menu.removeAttribute("open");
    var form = dialog.querySelector("form");
    form.reset();
    form.setAttribute("data-message-id", opener.getAttribute("data-id") || "");
    form.setAttribute("action", kind === "new" ? "/messages/new" : "/messages/" + opener.getAttribute("data-id") + "/" + kind);
    showError(form, "");
    var submit = form.querySelector("[data-send-submit]");
    submit.disabled = false;
    submit.textContent = submit.getAttribute("data-label") || submit.textContent;
    form.querySelectorAll("[aria-invalid]").forEach(function (i) { i.removeAttribute("aria-invalid"); });
    var about = dialog.querySelector("[data-send-about]");
    if (about) about.textContent = opener.getAttribute("data-who") ? (text.about || "%(name)s").replace("%(name)s", opener.getAttribute("data-who")) : "";
    var to = form.querySelector("[data-to]");
    if (to && opener.getAttribute("data-to")) to.value = opener.getAttribute("data-to");
    form.querySelectorAll("[data-recorder]").forEach(function (r) { setupRecorder(r); r._reset(); });
    R.openDialog(dialog);
  });

  document.querySelectorAll("dialog[data-send-dialog]").forEach(function (dialog) {
    dialog.addEventListener("close", function () {
      dialog.querySelectorAll("[data-recorder]").forEach(function (r) { if (r._stop) r._stop(); });
      dialog.querySelectorAll("audio").forEach(function (a) { a.pause(); });
    });
  });

  function endpoint(kind, id) {
    if (kind === "new") return api;
    if (kind === "reply") return api + "/" + id + "/reply";
    return api + "/" + id + "/forward";
  }

  function sendForm(form, kind) {
    var id = form.getAttribute("data-message-id");
    var data = new FormData(form);
    if (kind === "email" || kind === "voicemail" || kind === "fax") data.append("as", kind);
    form.querySelectorAll("[data-recorder]").forEach(function (r) {
      if (r._blob) {
        var name = r.getAttribute("data-field");
        data.delete(name);
        data.append(name, r._blob, name + "." + ((r._blob.type || "").indexOf("ogg") >= 0 ? "ogg" : "webm"));
      }
    });
    var submit = form.querySelector("[type=submit]");
    if (!submit.getAttribute("data-label")) submit.setAttribute("data-label", submit.textContent);
    submit.disabled = true;
    submit.textContent = text.sending;
    showError(form, "");
    R.api("POST", endpoint(kind, id), data).then(function (result) {
      var back = location.pathname.indexOf("/messages/faxes") === 0 || form.closest("[data-fax]") ? "/messages/faxes" : (location.pathname.match(/^\/messages(\/(faxes|missed|received|deleted))?$/) ? location.pathname : "/messages");
      if (result && result.skipped && result.skipped.length) {
        var box = form.querySelector("[data-send-error]");
        box.className = "alert alert--info";
        box.hidden = false;
        box.textContent = text.sent + " " + text.skipped + " " + result.skipped.map(function (s) { return s.detail; }).join(" ");
        submit.disabled = false;
        submit.textContent = submit.getAttribute("data-label");
        submit.addEventListener("click", function (e) { e.preventDefault(); location.assign(back); }, { once: true });
        return;
      }
      if (kind === "fax") { flashAndGo("fax-queued", "/messages/" + id + "/fax"); return; }
      flashAndGo(kind === "email" ? (result && result.status === "queued" ? "forward-queued" : "forwarded-email") : "message-sent", back);
    }).catch(function (err) {
      submit.disabled = false;
      submit.textContent = submit.getAttribute("data-label");
      var message = err.message || text.failed;
      if (err.data && err.data.fields) {
        err.data.fields.forEach(function (f) {
          var input = form.querySelector('[name="' + f.field.split(".")[0] + '"]');
          if (input) input.setAttribute("aria-invalid", "true");
        });
        message = err.data.fields.map(function (f) { return f.detail; }).filter(function (v, i, all) { return all.indexOf(v) === i; }).join(" ");
      }
      showError(form, message);
    });
  }

  document.addEventListener("input", function (event) {
    if (event.target.closest("form[data-send-form], form[data-send-page]")) event.target.removeAttribute("aria-invalid");
  });

  document.addEventListener("submit", function (event) {
    var form = event.target.closest("form[data-send-form], form[data-send-page]");
    if (!form) return;
    event.preventDefault();
    sendForm(form, form.getAttribute("data-send-form") || form.getAttribute("data-send-page"));
  });

  /* ------------------------------------------------------------------ pickers */

  /* The contacts and groups come from the API when the picker first opens. */
  var pickTarget = null;
  var pick = document.getElementById("dlg-pick");
  var book = null;
  function fold(s) { return (s || "").normalize("NFKD").replace(/[\u0300-\u036f]/g, "").toLowerCase(); }
  function words() {
    return fold(Array.prototype.join.call(arguments, " ")).split(/[\s,.;:\/()\-]+/).filter(Boolean).join(" ");
  }
  function matches(query, w) {
    var padded = " " + w;
    return fold(query).split(/\s+/).filter(Boolean).every(function (q) { return padded.indexOf(" " + q) >= 0; });
  }
  function phone(text) {
    if (!/^[\d\s().+\-]+$/.test(text)) return text;
    var d = text.replace(/\D/g, "");
    if (d.length === 11 && d[0] === "1") d = d.slice(1);
    return d.length === 10 ? "(" + d.slice(0, 3) + ") " + d.slice(3, 6) + "-" + d.slice(6) : text;
  }
  function item(value, name, detail, extra, w, group) {
    var li = pick.querySelector("template[data-pick-item]").content.firstElementChild.cloneNode(true);
    li.querySelector("[data-pick-value]").value = value;
    li.querySelector("[data-name]").textContent = name;
    li.querySelector("[data-detail]").textContent = detail;
    li.querySelector("[data-extra]").textContent = extra;
    li.querySelector("[data-group-icon]").toggleAttribute("hidden", !group);
    li.setAttribute("data-words", w);
    return li;
  }
  function fill() {
    var d = pick.dataset;
    var numbers = pick.querySelector('[data-pick-list="number"]');
    var emails = pick.querySelector('[data-pick-list="email"]');
    var fr = R.meta("lang") === "fr";
    book.groups.forEach(function (g) {
      var n = g.members.length;
      var count = (n === 1 || (fr && n === 0) ? d.membersOne : d.membersMany).replace("%(num)s", n);
      numbers.appendChild(item(g.phone_code, g.name, d.groupCode.replace("%(code)s", g.phone_code), count, words(g.name), true));
    });
    book.contacts.forEach(function (c) {
      var w = words(c.first_name, c.last_name, c.company, c.nickname);
      ["business_phone", "mobile_phone", "home_phone", "other_phone"].forEach(function (f) {
        if (c[f]) numbers.appendChild(item(c[f], c.name, phone(c[f]), pick.getAttribute("data-kind-" + f), w, false));
      });
      ["email", "email2", "email3"].forEach(function (f) {
        if (c[f]) emails.appendChild(item(c[f], c.name, c[f], "", w, false));
      });
    });
  }
  function load() {
    if (book) return Promise.resolve();
    /* The contacts API gives pages: read them all (an account holds a bounded number). */
    function contacts(offset, got) {
      return R.api("GET", "/api/v1/contacts?limit=1000&offset=" + offset).then(function (page) {
        got = got.concat(page.contacts);
        return page.contacts.length && got.length < page.total ? contacts(got.length, got) : got;
      });
    }
    return Promise.all([contacts(0, []), R.api("GET", "/api/v1/groups")]).then(function (r) {
      book = { contacts: r[0], groups: r[1].groups };
      fill();
    });
  }
  function filterPick() {
    var q = pick.querySelector("[data-pick-search]").value;
    var any = false;
    pick.querySelectorAll("[data-pick-list]:not([hidden]) li").forEach(function (li) {
      var ok = !q || matches(q, li.getAttribute("data-words"));
      li.hidden = !ok;
      any = any || ok;
    });
    pick.querySelector("[data-pick-empty]").hidden = any;
  }
  if (pick) {
    document.addEventListener("click", function (event) {
      var button = event.target.closest("[data-pick]");
      if (!button) return;
      event.preventDefault();
      pickTarget = document.getElementById(button.getAttribute("data-pick-target"));
      var mode = button.getAttribute("data-pick");
      load().then(function () {
        pick.querySelectorAll("[data-pick-list]").forEach(function (ul) { ul.hidden = ul.getAttribute("data-pick-list") !== mode; });
        pick.querySelectorAll("[data-pick-value]").forEach(function (c) { c.checked = false; });
        pick.querySelector("[data-pick-search]").value = "";
        filterPick();
        R.openDialog(pick);
      });
    });
    pick.querySelector("[data-pick-search]").addEventListener("input", filterPick);
    pick.querySelector("[data-pick-confirm]").addEventListener("click", function () {
      if (pickTarget) {
        var values = pickTarget.value.split(/[,;]/).map(function (v) { return v.trim(); }).filter(Boolean);
        pick.querySelectorAll("[data-pick-list]:not([hidden]) [data-pick-value]:checked").forEach(function (c) {
          if (values.indexOf(c.value) < 0) values.push(c.value);
        });
        pickTarget.value = values.join(", ");
      }
      R.closeDialog(pick);
      if (pickTarget) pickTarget.focus();
    });
  }

  /* ------------------------------------------------------------------ add to contacts */

  var addDialog = document.getElementById("dlg-add-contact");
  if (addDialog) {
    var kindSelect = addDialog.querySelector("[data-ac-kind]");
    var numberInput = addDialog.querySelector("[data-ac-number]");
    kindSelect.addEventListener("change", function () { numberInput.name = kindSelect.value; });
    document.addEventListener("click", function (event) {
      var link = event.target.closest("[data-add-contact]");
      if (!link) return;
      event.preventDefault();
      var form = addDialog.querySelector("form");
      form.reset();
      numberInput.name = kindSelect.value;
      numberInput.value = link.getAttribute("data-number");
      var name = (link.getAttribute("data-name") || "").trim();
      var space = name.lastIndexOf(" ");
      form.querySelector('[name="first_name"]').value = space > 0 ? name.slice(0, space) : name;
      form.querySelector('[name="last_name"]').value = space > 0 ? name.slice(space + 1) : "";
      R.openDialog(addDialog);
    });
  }

  /* ------------------------------------------------------------------ confirmations */

  var confirmDialog = document.getElementById("dlg-confirm");
  var pending = null;
  if (confirmDialog) {
    document.addEventListener("click", function (event) {
      var button = event.target.closest("button[data-confirm]");
      if (!button || button.hasAttribute("data-confirmed")) return;
      event.preventDefault();
      pending = button;
      confirmDialog.querySelector("[data-confirm-text]").textContent = button.getAttribute("data-confirm");
      R.openDialog(confirmDialog);
    });
    confirmDialog.querySelector("[data-confirm-ok]").addEventListener("click", function () {
      R.closeDialog(confirmDialog);
      if (!pending) return;
      pending.setAttribute("data-confirmed", "");
      pending.click();
    });
  }

  /* ------------------------------------------------------------------ live updates */

  var listBox = document.querySelector('[data-live="list"]');
  var timer = null;
  var toast = null;

  function showToast(message) {
    if (!toast) {
      toast = document.createElement("div");
      toast.className = "toast";
      toast.setAttribute("role", "status");
      document.body.appendChild(toast);
    }
    toast.textContent = message;
    toast.classList.add("is-shown");
    clearTimeout(toast._t);
    toast._t = setTimeout(function () { toast.classList.remove("is-shown"); }, 4000);
  }

  function swap(doc, name) {
    var now = document.querySelector('[data-live="' + name + '"]');
    var next = doc.querySelector('[data-live="' + name + '"]');
    if (now && next) now.innerHTML = next.innerHTML;
  }

  function mergeList(doc) {
    var next = doc.querySelector('[data-live="list"]');
    if (!listBox || !next) return;
    var oldUl = listBox.querySelector("ul.msgs");
    var newUl = next.querySelector("ul.msgs");
    if (!oldUl || !newUl) { listBox.innerHTML = next.innerHTML; return; }
    var head = listBox.querySelector(".list-head");
    var newHead = next.querySelector(".list-head");
    if (head && newHead) head.innerHTML = newHead.innerHTML;
    var nav = listBox.querySelector('[data-testid="pages"]');
    var newNav = next.querySelector('[data-testid="pages"]');
    if (nav && newNav) nav.innerHTML = newNav.innerHTML;
    else if (nav) nav.remove();
    else if (newNav) oldUl.after(document.importNode(newNav, true));
    var old = {};
    Array.prototype.forEach.call(oldUl.children, function (li) { old[li.getAttribute("data-id")] = li; });
    var rows = [];
    Array.prototype.forEach.call(newUl.children, function (li) {
      var id = li.getAttribute("data-id");
      var keep = old[id];
      if (keep && keep.classList.contains("is-open")) {
        keep.classList.toggle("is-new", li.classList.contains("is-new"));
        ["[data-play]", ".msg__line", ".menu__panel", ".msg__form"].forEach(function (sel) {
          var a = keep.querySelector(sel), b = li.querySelector(sel);
          if (sel === "[data-play]") { if (a && b) a.setAttribute("data-heard", b.getAttribute("data-heard")); }
          else if (a && b) a.innerHTML = b.innerHTML;
        });
        keep.setAttribute("data-state", li.getAttribute("data-state"));
        rows.push(keep);
      } else if (keep && keep.getAttribute("data-state") === li.getAttribute("data-state")) {
        rows.push(keep);
      } else {
        var node = document.importNode(li, true);
        if (!keep) node.classList.add("is-arrived");
        rows.push(node);
      }
    });
    oldUl.replaceChildren.apply(oldUl, rows);
  }

  function refresh() {
    fetch(location.pathname + location.search, { credentials: "same-origin", headers: { Accept: "text/html" } })
      .then(function (r) { return r.ok ? r.text() : null; })
      .then(function (html) {
        if (!html) return;
        var doc = new DOMParser().parseFromString(html, "text/html");
        ["tabs", "usage", "storage"].forEach(function (n) { swap(doc, n); });
        mergeList(doc);
      }).catch(function () {});
  }
  function refreshSoon() { clearTimeout(timer); timer = setTimeout(refresh, 250); }

  if (listBox && window.EventSource && line) {
    var source = new EventSource("/api/v1/lines/" + line + "/events?after=" + (listBox.getAttribute("data-after") || ""));
    ["message.deposited", "message.changed", "mailbox.counts", "call.missed", "call.received"].forEach(function (type) {
      source.addEventListener(type, function (e) {
        if (type === "message.deposited") showToast(text.arrived);
        void e;
        refreshSoon();
      });
    });
    window.addEventListener("pagehide", function () { source.close(); });
  }
})();
