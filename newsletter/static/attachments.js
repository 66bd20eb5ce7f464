// The composer's attachment controls: a file that would take a message over the limit for
// attached files is offered as a download link instead (the server checks it again).
(function () {
  "use strict";

  // Back from an upload or a removal (#attachments-es): show that language's panel.
  const back = /^#attachments-([a-z]+)$/.exec(window.location.hash);
  const tab = back && document.getElementById("tab-" + back[1]);
  if (tab && tab.getAttribute("aria-selected") !== "true") tab.click();

  document.querySelectorAll(".attachment-upload").forEach((box) => {
    const input = box.querySelector("input[type=file]");
    const linkOnly = box.querySelector("input[name=link_only]");
    const note = box.querySelector(".attachment-note");
    const limit = Number(box.dataset.attachLimit);
    const attached = Number(box.dataset.attached);

    [input, linkOnly].forEach((control) => {
      // These controls belong to the upload form, not to the text being previewed.
      control.addEventListener("input", (event) => event.stopPropagation());
      control.addEventListener("change", (event) => event.stopPropagation());
    });
    input.addEventListener("change", () => {
      const file = input.files[0];
      const over = Boolean(file) && attached + file.size > limit;
      if (over) linkOnly.checked = true;
      note.textContent = over ? box.dataset.overLimit : "";
      note.hidden = !over;
    });
  });
})();
