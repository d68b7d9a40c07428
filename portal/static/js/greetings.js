/* Message settings page: the e-mail address dialog and the greeting dialog (record in the
   browser with MediaRecorder, listen, upload a file, save through the JSON API, delete).
   A saved recording marks its greeting with "*" at once; Apply still saves the choices. */
(function () {
  "use strict";

  var EMAIL = /^[^\s@]+@[^\s@]+\.[^\s@]+$/;

  /* ------------------------------------------------------------------ e-mail addresses */

  var list = document.querySelector("[data-email-list]");
  var emailDialog = document.getElementById("dlg-email");
  var addRow = document.querySelector("[data-email-add-row]");
  if (list && emailDialog && addRow) {
    /* The field stays in view: Add takes the address typed there; with the field empty, Add
       opens the dialog the guide describes. */
    var inline = addRow.querySelector("input");
    var inlineError = addRow.parentNode.querySelector("[data-email-inline-error]");
    var input = emailDialog.querySelector("#dlg-email-input");
    var error = emailDialog.querySelector("[data-email-error]");
    addRow.querySelector("[data-open-email-dialog]").addEventListener("click", function () {
      var typed = inline.value.trim();
      if (typed) {
        if (!EMAIL.test(typed)) { inlineError.hidden = false; inline.focus(); return; }
        inlineError.hidden = true;
        add(typed);
        inline.value = "";
        return;
      }
      input.value = "";
      error.hidden = true;
      window.relais.openDialog(emailDialog);
    });
    inline.addEventListener("keydown", function (e) {
      if (e.key === "Enter") { e.preventDefault(); addRow.querySelector("[data-open-email-dialog]").click(); }
    });
    function add(v) {
      var li = document.createElement("li");
      li.className = "chip";
      var h = document.createElement("input");
      h.type = "hidden"; h.name = "forward_emails"; h.value = v;
      var span = document.createElement("span"); span.textContent = v;
      var x = document.createElement("button");
      x.type = "button"; x.className = "chip__x"; x.setAttribute("data-email-remove", ""); x.textContent = "×";
      x.setAttribute("aria-label", "× " + v);
      li.appendChild(h); li.appendChild(span); li.appendChild(x);
      list.appendChild(li);
      var box = document.getElementById("forward_to_email");
      if (box) box.checked = true;
    }
    function confirm() {
      var v = input.value.trim();
      if (!EMAIL.test(v)) { error.hidden = false; input.focus(); return; }
      add(v);
      window.relais.closeDialog(emailDialog);
    }
    emailDialog.querySelector("[data-email-confirm]").addEventListener("click", confirm);
    input.addEventListener("keydown", function (e) { if (e.key === "Enter") { e.preventDefault(); confirm(); } });
    list.addEventListener("click", function (e) {
      var x = e.target.closest("[data-email-remove]");
      if (x) x.closest(".chip").remove();
    });
  }

  /* ------------------------------------------------------------------ greetings */

  var dialog = document.getElementById("dlg-greeting");
  if (!dialog) return;
  var line = dialog.getAttribute("data-line");
  var maxSeconds = parseInt(dialog.getAttribute("data-max-seconds"), 10) || 180;
  var text = dialog.querySelector("[data-i18n]").dataset;
  var title = dialog.querySelector("[data-greeting-title]");
  var startBtn = dialog.querySelector("[data-rec-start]");
  var stopBtn = dialog.querySelector("[data-rec-stop]");
  var timeEl = dialog.querySelector("[data-rec-time]");
  var status = dialog.querySelector("[data-rec-status]");
  var audio = dialog.querySelector("[data-greeting-audio]");
  var fileInput = dialog.querySelector("[data-greeting-file]");
  var fileName = dialog.querySelector("[data-file-name]");
  var errorEl = dialog.querySelector("[data-greeting-error]");
  var savedEl = dialog.querySelector("[data-greeting-saved]");
  var saveBtn = dialog.querySelector("[data-greeting-save]");
  var deleteBtn = dialog.querySelector("[data-greeting-delete]");

  var kind = null, recorder = null, chunks = [], blob = null, stream = null, timer = null, started = 0;
  var objectUrl = null;

  function url() { return "/api/v1/lines/" + line + "/greetings/" + kind; }
  function star(k) { return document.querySelectorAll('[data-star="' + k + '"]'); }
  function recorded(k) { var s = star(k)[0]; return s && !s.hidden; }

  function showError(message) { errorEl.textContent = message; errorEl.hidden = !message; }
  function setAudio(src) {
    if (objectUrl && objectUrl !== src) { URL.revokeObjectURL(objectUrl); objectUrl = null; }
    if (src) { audio.src = src; audio.hidden = false; } else { audio.removeAttribute("src"); audio.hidden = true; }
  }

  function reset() {
    blob = null;
    chunks = [];
    fileInput.value = "";
    fileName.textContent = fileName.dataset.none;
    saveBtn.disabled = true;
    showError("");
    savedEl.hidden = true;
    status.textContent = "";
    startBtn.hidden = false;
    stopBtn.hidden = true;
    var has = recorded(kind);
    deleteBtn.hidden = !has;
    if (has) { setAudio(url() + "?t=" + Date.now()); status.textContent = text.stored; }
    else { setAudio(null); status.textContent = text.none; }
  }

  document.querySelectorAll("[data-greeting]").forEach(function (button) {
    button.addEventListener("click", function () {
      kind = button.getAttribute("data-greeting");
      var name = dialog.querySelector('template[data-greeting-name="' + kind + '"]');
      title.textContent = name ? name.innerHTML.trim() : kind;
      reset();
      window.relais.openDialog(dialog);
    });
  });

  function tick() {
    var s = Math.floor((Date.now() - started) / 1000);
    timeEl.textContent = Math.floor(s / 60) + ":" + ("0" + (s % 60)).slice(-2);
    if (s >= maxSeconds) stop();
  }

  function stop() {
    if (recorder && recorder.state !== "inactive") recorder.stop();
    clearInterval(timer);
  }

  startBtn.addEventListener("click", function () {
    showError("");
    savedEl.hidden = true;
    if (!navigator.mediaDevices || !window.MediaRecorder) { showError(text.noMic); return; }
    navigator.mediaDevices.getUserMedia({ audio: true }).then(function (s) {
      stream = s;
      chunks = [];
      recorder = new MediaRecorder(stream);
      recorder.addEventListener("dataavailable", function (e) { if (e.data && e.data.size) chunks.push(e.data); });
      recorder.addEventListener("stop", function () {
        stream.getTracks().forEach(function (t) { t.stop(); });
        blob = new Blob(chunks, { type: recorder.mimeType || "audio/webm" });
        objectUrl = URL.createObjectURL(blob);
        setAudio(objectUrl);
        fileInput.value = "";
        saveBtn.disabled = false;
        startBtn.hidden = false;
        stopBtn.hidden = true;
        status.textContent = text.recorded;
      });
      recorder.start(250);
      started = Date.now();
      timeEl.textContent = "0:00";
      timer = setInterval(tick, 250);
      startBtn.hidden = true;
      stopBtn.hidden = false;
      status.textContent = text.recording;
      stopBtn.focus();
    }).catch(function () { showError(text.noMic); });
  });
  stopBtn.addEventListener("click", stop);

  fileInput.addEventListener("change", function () {
    if (!fileInput.files.length) return;
    blob = fileInput.files[0];
    fileName.textContent = blob.name;
    objectUrl = URL.createObjectURL(blob);
    setAudio(objectUrl);
    saveBtn.disabled = false;
    savedEl.hidden = true;
    showError("");
  });

  saveBtn.addEventListener("click", function () {
    if (!blob) return;
    var form = new FormData();
    var name = blob.name || ("greeting." + ((blob.type || "").indexOf("ogg") >= 0 ? "ogg" : "webm"));
    form.append("file", blob, name);
    saveBtn.disabled = true;
    status.textContent = text.saving;
    window.relais.api("PUT", url(), form).then(function () {
      star(kind).forEach(function (s) { s.hidden = false; });
      blob = null;
      savedEl.hidden = false;
      deleteBtn.hidden = false;
      status.textContent = text.stored;
      setAudio(url() + "?t=" + Date.now());
    }).catch(function (err) {
      saveBtn.disabled = false;
      status.textContent = "";
      showError(err.message || text.failed);
    });
  });

  deleteBtn.addEventListener("click", function () {
    window.relais.api("DELETE", url()).then(function () {
      star(kind).forEach(function (s) { s.hidden = true; });
      reset();
    }).catch(function (err) { showError(err.message || text.failed); });
  });

  dialog.addEventListener("close", function () { stop(); audio.pause(); });
})();
