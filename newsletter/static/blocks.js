// Saved blocks in the composer: insert a block's text, in the panel's language, where the
// cursor is in that language's body. The texts come from a JSON block Jinja rendered.
(function () {
  "use strict";

  const data = document.getElementById("saved-blocks");
  const form = document.getElementById("composer");
  if (!data || !form) return;
  const blocks = new Map(JSON.parse(data.textContent).map((block) => [String(block.id), block]));

  function insert(textarea, text) {
    const before = textarea.value.slice(0, textarea.selectionStart).replace(/\s+$/, "");
    const after = textarea.value.slice(textarea.selectionEnd).replace(/^\s+/, "");
    const head = before ? before + "\n\n" : "";
    textarea.value = head + text + (after ? "\n\n" + after : "\n");
    const cursor = (head + text).length;
    textarea.setSelectionRange(cursor, cursor);
    textarea.dispatchEvent(new Event("input", { bubbles: true }));
    // The rich editor above the field reloads from it: the field is the text's one copy.
    textarea.dispatchEvent(new Event("markdown-replaced", { bubbles: true }));
  }

  form.querySelectorAll("[data-insert-block]").forEach((control) => {
    const language = control.dataset.language;
    const select = control.querySelector("select");
    control.querySelector("button").addEventListener("click", () => {
      const block = blocks.get(select.value);
      const textarea = form.elements["variant_" + language + "-body"];
      if (!block || !block.body[language] || !textarea) return;
      insert(textarea, block.body[language]);
      textarea.focus();
    });
  });
})();
