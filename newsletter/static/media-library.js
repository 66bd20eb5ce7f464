// The media library page: an image dropped anywhere on the page is uploaded by the same
// form as the file field, after a size check that spares a long upload bound to fail.
(function () {
  "use strict";

  const form = document.getElementById("media-upload");
  if (!form) return;
  const input = form.querySelector("input[type=file]");
  const notice = document.getElementById("media-drop-error");
  const maxBytes = Number(form.dataset.maxBytes);

  function refuse(message) {
    notice.textContent = message;
    notice.hidden = false;
  }

  function tooLarge(file) {
    if (file && file.size > maxBytes) {
      refuse(form.dataset.tooLarge);
      return true;
    }
    return false;
  }

  form.addEventListener("submit", (event) => {
    if (tooLarge(input.files[0])) event.preventDefault();
  });

  function carriesFiles(event) {
    return event.dataTransfer && Array.from(event.dataTransfer.types).includes("Files");
  }

  document.addEventListener("dragover", (event) => {
    if (!carriesFiles(event)) return;
    event.preventDefault();
    document.body.classList.add("dragging-file");
  });
  document.addEventListener("dragleave", (event) => {
    if (event.relatedTarget === null) document.body.classList.remove("dragging-file");
  });
  document.addEventListener("drop", (event) => {
    if (!carriesFiles(event)) return;
    event.preventDefault();
    document.body.classList.remove("dragging-file");
    const files = event.dataTransfer.files;
    if (!files.length || tooLarge(files[0])) return;
    const chosen = new DataTransfer();
    chosen.items.add(files[0]);
    input.files = chosen.files;
    form.requestSubmit();
  });
})();
