// /apply/: the chosen files as a list that grows over several picks and loses one file at a time;
// the fields checked by the server before any file is sent (a typo never costs the upload or the
// chosen files); the errors in a summary that takes the focus and links to the fields; the region
// taken from the login; the letter filled in from the form; a progress bar while sending.
(function () {
  "use strict";
  var form = document.getElementById("apply-form");
  if (!form) return;
  var input = form.querySelector("input[type=file]");
  var limit = parseInt(form.dataset.maxBytes, 10);
  var list = document.getElementById("attachments-list");
  var summary = document.getElementById("attachments-summary");
  var warning = document.getElementById("attachments-warning");
  var submit = document.getElementById("apply-submit");
  var progress = document.getElementById("upload-progress");
  var bar = progress.querySelector(".progress-bar");
  var errorSummary = document.getElementById("error-summary");
  var errorList = document.getElementById("error-summary-list");
  var login = document.getElementById("id_login");
  var region = document.getElementById("id_region");
  var canKeepFiles = typeof DataTransfer === "function" && window.FormData && window.fetch;
  var chosen = [];  // every file picked so far, in order; mirrored into the input

  // The script checks through the server with the server's own messages; the browser's
  // validation stays on only where this script does not run.
  if (canKeepFiles) form.noValidate = true;

  function mb(bytes) {
    return (bytes / 1048576).toFixed(1).replace(".", ",") + " МБ";
  }

  function files() {
    return canKeepFiles ? chosen : Array.prototype.slice.call(input.files);
  }

  function totalSize() {
    return files().reduce(function (sum, f) { return sum + f.size; }, 0);
  }

  function extension(name) {
    var dot = name.lastIndexOf(".");
    return dot === -1 ? "" : name.slice(dot + 1).toLowerCase();
  }

  function showSummary() {
    var picked = files();
    var total = totalSize();
    var over = total > limit;
    summary.textContent = picked.length
      ? "Выбрано файлов: " + picked.length + ", " + mb(total) + " из " + mb(limit) +
        (over ? ". Превышен допустимый размер — уберите часть файлов." : ".")
      : "";
    summary.className = over ? "small text-danger fw-semibold" : "small text-body-secondary";
    input.setAttribute("aria-invalid", over ? "true" : "false");
    submit.disabled = over;
    // Only Word files: most likely the template itself, not the signed and stamped scan. A hint only.
    warning.hidden = !(picked.length && picked.every(function (f) {
      return ["doc", "docx"].indexOf(extension(f.name)) !== -1;
    }));
    return !over;
  }

  function syncInput() {
    var transfer = new DataTransfer();
    chosen.forEach(function (f) { transfer.items.add(f); });
    input.files = transfer.files;
  }

  function renderList() {
    list.textContent = "";
    list.hidden = !chosen.length;
    chosen.forEach(function (file, index) {
      var item = document.createElement("li");
      item.className = "list-group-item d-flex justify-content-between align-items-center gap-2";
      var name = document.createElement("span");
      name.className = "text-break";
      name.textContent = file.name + " — " + mb(file.size);
      var remove = document.createElement("button");
      remove.type = "button";
      remove.className = "btn btn-sm btn-outline-danger";
      remove.textContent = "Удалить";
      var hidden = document.createElement("span");
      hidden.className = "visually-hidden";
      hidden.textContent = " файл " + file.name;
      remove.appendChild(hidden);
      remove.addEventListener("click", function () {
        chosen.splice(index, 1);
        filesChanged();
        var buttons = list.querySelectorAll("button");
        (buttons[Math.min(index, buttons.length - 1)] || input).focus();
      });
      item.appendChild(name);
      item.appendChild(remove);
      list.appendChild(item);
    });
  }

  function filesChanged() {
    syncInput();
    renderList();
    showSummary();
  }

  input.addEventListener("change", function () {
    if (!canKeepFiles) { showSummary(); return; }
    // A new pick adds to the earlier ones instead of replacing them.
    Array.prototype.forEach.call(input.files, function (file) {
      var known = chosen.some(function (f) {
        return f.name === file.name && f.size === file.size && f.lastModified === file.lastModified;
      });
      if (!known) chosen.push(file);
    });
    filesChanged();
  });

  // The region follows the login's two-digit code (regRR…, niko_RR, spo_coord_RR, schRR…, eduRR…).
  var regionSetByLogin = false;
  function regionFromLogin() {
    var match = /^(?:reg|niko_|spo_coord_|sch|edu)([0-9]{2})/.exec(login.value);
    if (!match || !region.querySelector("option[value='" + match[1] + "']")) return;
    if (region.value && !regionSetByLogin) return;  // chosen by hand: the server compares them
    region.value = match[1];
    regionSetByLogin = true;
  }
  login.addEventListener("input", regionFromLogin);
  region.addEventListener("change", function () { regionSetByLogin = false; });

  // Errors: next to each field, and in the summary at the top, which takes the focus.
  function labelOf(name) {
    var label = form.querySelector("label[for='id_" + name + "']");
    return label ? label.textContent.replace("*", "").trim() : "";
  }

  function clearErrors() {
    form.querySelectorAll(".invalid-feedback[id$='_error']").forEach(function (e) { e.remove(); });
    form.querySelectorAll(".is-invalid").forEach(function (field) {
      field.classList.remove("is-invalid");
      field.setAttribute("aria-invalid", "false");
      var described = (field.getAttribute("aria-describedby") || "").split(" ").filter(function (id) {
        return id && id !== field.id + "_error";
      });
      if (described.length) field.setAttribute("aria-describedby", described.join(" "));
      else field.removeAttribute("aria-describedby");
    });
    errorList.textContent = "";
    errorSummary.querySelectorAll("p").forEach(function (p) { p.remove(); });
    errorSummary.hidden = true;
  }

  function showErrors(errors) {
    clearErrors();
    Object.keys(errors).forEach(function (name) {
      var field = document.getElementById("id_" + name);
      errors[name].forEach(function (message) {
        var item = document.createElement("li");
        if (field) {
          var link = document.createElement("a");
          link.href = "#" + field.id;
          link.textContent = labelOf(name) + ": " + message;
          item.appendChild(link);
        } else {
          item.textContent = message;
        }
        errorList.appendChild(item);
      });
      if (!field) return;
      var feedback = document.createElement("div");
      feedback.id = field.id + "_error";
      feedback.className = "invalid-feedback";
      errors[name].forEach(function (message) {
        var line = document.createElement("p");
        line.className = "mb-0 fw-semibold";
        line.textContent = message;
        feedback.appendChild(line);
      });
      field.classList.add("is-invalid");
      field.setAttribute("aria-invalid", "true");
      var described = (field.getAttribute("aria-describedby") || "").split(" ").filter(Boolean);
      described.push(feedback.id);
      field.setAttribute("aria-describedby", described.join(" "));
      field.parentNode.insertBefore(feedback, field.type === "checkbox" ? null : field.nextSibling);
    });
    errorSummary.hidden = false;
    errorSummary.focus();
  }

  // A link in the summary puts the cursor into its field, not only the page at it.
  errorSummary.addEventListener("click", function (event) {
    var link = event.target.closest("a[href^='#']");
    if (!link) return;
    var field = document.getElementById(link.getAttribute("href").slice(1));
    if (!field) return;
    event.preventDefault();
    var label = form.querySelector("label[for='" + field.id + "']");
    (label || field).scrollIntoView({ block: "center" });
    field.focus({ preventScroll: true });
  });
  if (!errorSummary.hidden) errorSummary.focus();  // the server refused the form

  function showPage(html) {
    document.open();
    document.write(html);
    document.close();
  }

  function throttled(seconds) {
    var minutes = Math.max(1, Math.ceil((parseInt(seconds, 10) || 60) / 60));
    return "Слишком много попыток с вашего адреса. Повторите через " + minutes +
      " мин. — введённое и выбранные файлы останутся на странице.";
  }

  function resetSending() {
    submit.disabled = !showSummary();
    progress.hidden = true;
    bar.style.width = "0%";
    bar.textContent = "0%";
  }

  // The letter filled in from what is typed: a throwaway form posts the fields; the page stays.
  var letterBox = document.getElementById("letter-prefilled");
  letterBox.hidden = false;
  letterBox.querySelectorAll("button[data-letter-format]").forEach(function (button) {
    button.addEventListener("click", function () {
      var post = document.createElement("form");
      post.method = "post";
      post.action = form.dataset.letterUrl;
      post.hidden = true;
      var data = new FormData(form);
      data.delete("attachments");
      data.append("format", button.dataset.letterFormat);
      data.forEach(function (value, name) {
        var field = document.createElement("input");
        field.type = "hidden";
        field.name = name;
        field.value = value;
        post.appendChild(field);
      });
      document.body.appendChild(post);
      post.submit();
      post.remove();
    });
  });

  function upload() {
    progress.hidden = false;
    var xhr = new XMLHttpRequest();
    xhr.open("POST", form.action);
    xhr.setRequestHeader("Accept", "application/json");
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
      if (xhr.status === 429) {
        resetSending();
        showErrors({ __all__: [throttled(xhr.getResponseHeader("Retry-After"))] });
        return;
      }
      if (xhr.status === 400) {  // refused, say for a file's content: the files stay chosen
        resetSending();
        showErrors(JSON.parse(xhr.responseText).errors);
        return;
      }
      showPage(xhr.responseText);
    });
    xhr.addEventListener("error", function () {
      resetSending();
      summary.textContent = "Не удалось отправить заявку: нет связи с сервером. Попробуйте ещё раз.";
      summary.className = "small text-danger fw-semibold";
    });
    xhr.send(new FormData(form));
  }

  form.addEventListener("submit", function (event) {
    if (!canKeepFiles) { if (!showSummary()) event.preventDefault(); return; }
    event.preventDefault();
    if (!showSummary()) return;
    submit.disabled = true;
    // First the fields, and the files by name and size only; the files go once all is right.
    var data = new FormData(form);
    data.delete("attachments");
    chosen.forEach(function (file) {
      data.append("attachment_name", file.name);
      data.append("attachment_size", String(file.size));
    });
    fetch(form.dataset.checkUrl, {
      method: "POST", body: data, credentials: "same-origin", headers: { Accept: "application/json" },
    }).then(function (response) {
      if (response.status === 429) {
        resetSending();
        showErrors({ __all__: [throttled(response.headers.get("Retry-After"))] });
        return;
      }
      if ((response.headers.get("Content-Type") || "").indexOf("application/json") === -1) {
        return response.text().then(showPage);  // the throttle's page, say
      }
      return response.json().then(function (answer) {
        if (Object.keys(answer.errors).length) {
          resetSending();
          showErrors(answer.errors);
        } else {
          clearErrors();
          upload();
        }
      });
    }).catch(function () {
      resetSending();
      summary.textContent = "Не удалось проверить заявку: нет связи с сервером. Попробуйте ещё раз.";
      summary.className = "small text-danger fw-semibold";
    });
  });
})();
