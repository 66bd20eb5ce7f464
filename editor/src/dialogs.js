// The toolbar's questions, asked in <dialog> elements the page renders (their texts are
// translated there). Each answers a promise: the values entered, or null when cancelled.
import { allowedImageUrl, allowedUrl, markdownAddress } from "./urls.js";

function ask(dialog, values, refusal) {
  const form = dialog.querySelector("form");
  const fields = Array.from(form.elements).filter((element) => element.name && element.tagName !== "BUTTON");
  fields.forEach((field) => { field.value = values[field.name] || ""; });
  form.querySelectorAll("[data-refusal]").forEach((message) => { message.hidden = true; });

  return new Promise((resolve) => {
    function answer() {
      const entered = {};
      fields.forEach((field) => { entered[field.name] = field.value.trim(); });
      return entered;
    }
    function onSubmit(event) {
      if (event.submitter && event.submitter.value === "cancel") return;
      const reason = refusal(answer());
      if (!reason) return;
      event.preventDefault();
      form.querySelectorAll("[data-refusal]").forEach((message) => {
        message.hidden = message.dataset.refusal !== reason;
      });
      const field = form.elements[reason.split("-")[0]];
      if (field) field.focus();
    }
    function onClose() {
      form.removeEventListener("submit", onSubmit);
      dialog.removeEventListener("close", onClose);
      resolve(dialog.returnValue === "insert" ? answer() : null);
    }
    form.addEventListener("submit", onSubmit);
    dialog.addEventListener("close", onClose);
    dialog.returnValue = "";
    dialog.showModal();
  });
}

function dialog(name) {
  return document.getElementById("editor-" + name + "-dialog");
}

// An empty address removes the link; null leaves it as it was.
export function askForLink(current) {
  return ask(dialog("link"), { url: current }, (values) => (
    values.url && !allowedUrl(values.url) ? "url" : null
  )).then((values) => (values ? values.url && markdownAddress(values.url) : null));
}

export function askForButton() {
  return ask(dialog("button"), {}, (values) => {
    if (!values.label) return "label";
    // Brackets would end the label early in `::button[Label](address)`.
    if (/[[\]]/.test(values.label)) return "label-brackets";
    return allowedUrl(values.url) ? null : "url";
  }).then((values) => values && { label: values.label, href: markdownAddress(values.url) });
}

// The media library, when the page offers it, fills the address and the alt text that the
// library keeps for the panel's language.
function offerLibrary(chooser) {
  const form = chooser.form;
  const listUrl = chooser.dataset.listUrl;
  if (!listUrl || chooser.dataset.loaded) return;
  chooser.dataset.loaded = "true";
  fetch(listUrl, { credentials: "same-origin", headers: { Accept: "application/json" } })
    .then((response) => (response.ok ? response.json() : { items: [] }))
    .then((result) => {
      result.items.forEach((item) => {
        const option = document.createElement("option");
        option.value = item.url;
        option.textContent = item.filename;
        option.dataset.alt = JSON.stringify(item.alt || {});
        chooser.append(option);
      });
      chooser.closest("[data-media-picker]").hidden = !result.items.length;
    })
    .catch(() => { /* the address field is always there */ });
  chooser.addEventListener("change", () => {
    const option = chooser.selectedOptions[0];
    if (!option || !option.value) return;
    form.elements.url.value = option.value;
    const alt = JSON.parse(option.dataset.alt || "{}")[chooser.dataset.language] || "";
    if (alt && !form.elements.alt.value.trim()) form.elements.alt.value = alt;
  });
}

// `values` prefills the dialog (an image just uploaded, with the library's alt texts).
export function askForImage(language, values = {}) {
  const box = dialog("image");
  const chooser = box.querySelector("select[data-list-url]");
  if (chooser) {
    chooser.dataset.language = language;
    chooser.value = "";
    offerLibrary(chooser);
  }
  return ask(box, values, (values) => {
    if (!allowedImageUrl(values.url)) return "url";
    if (!values.alt) return "alt";
    // Either would end the text early in `![Alt](address "Caption")`.
    if (/[[\]]/.test(values.alt)) return "alt-brackets";
    return values.caption.includes('"') ? "caption-quotes" : null;
  }).then((values) => values && {
    src: markdownAddress(values.url),
    alt: values.alt,
    title: values.caption || null,
  });
}
