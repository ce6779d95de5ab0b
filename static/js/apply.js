// /apply/: total size of the chosen files against the limit, a progress bar
// while sending, and the letter buttons that must not upload the files.
(function () {
  "use strict";
  var form = document.getElementById("apply-form");
  if (!form) return;
  var input = form.querySelector("input[type=file]");
  var limit = parseInt(form.dataset.maxBytes, 10);
  var summary = document.getElementById("attachments-summary");
  var submit = document.getElementById("apply-submit");
  var progress = document.getElementById("upload-progress");
  var bar = progress.querySelector(".progress-bar");

  function mb(bytes) {
    return (bytes / 1048576).toFixed(1).replace(".", ",") + " МБ";
  }

  function totalSize() {
    var total = 0;
    for (var i = 0; i < input.files.length; i++) total += input.files[i].size;
    return total;
  }

  function showSummary() {
    var total = totalSize();
    var over = total > limit;
    summary.textContent = input.files.length
      ? "Выбрано файлов: " + input.files.length + ", " + mb(total) + " из " + mb(limit) +
        (over ? ". Превышен допустимый размер — уберите часть файлов." : ".")
      : "";
    summary.className = over ? "small text-danger fw-semibold" : "small text-body-secondary";
    input.setAttribute("aria-invalid", over ? "true" : "false");
    submit.disabled = over;
    return !over;
  }

  input.addEventListener("change", showSummary);

  // The letter buttons post the typed fields to another URL; the files stay here.
  form.querySelectorAll("button[formaction]").forEach(function (button) {
    button.addEventListener("click", function () {
      input.disabled = true;
      setTimeout(function () { input.disabled = false; }, 0);
    });
  });

  form.addEventListener("submit", function (event) {
    if (event.submitter && event.submitter.hasAttribute("formaction")) return;
    if (!showSummary()) { event.preventDefault(); return; }
    if (!input.files.length || !window.FormData) return;
    event.preventDefault();
    submit.disabled = true;
    progress.hidden = false;
    var xhr = new XMLHttpRequest();
    xhr.open("POST", form.action);
    xhr.upload.addEventListener("progress", function (e) {
      if (!e.lengthComputable) return;
      var percent = Math.round((e.loaded / e.total) * 100);
      bar.style.width = percent + "%";
      bar.textContent = percent + "%";
      progress.setAttribute("aria-valuenow", String(percent));
    });
    xhr.addEventListener("load", function () {
      if (xhr.responseURL && xhr.responseURL.indexOf("/apply/done/") !== -1) {
        window.location.assign(xhr.responseURL);
        return;
      }
      document.open();
      document.write(xhr.responseText);
      document.close();
    });
    xhr.addEventListener("error", function () {
      submit.disabled = false;
      progress.hidden = true;
      summary.textContent = "Не удалось отправить заявку: нет связи с сервером. Попробуйте ещё раз.";
      summary.className = "small text-danger fw-semibold";
    });
    xhr.send(new FormData(form));
  });
})();
