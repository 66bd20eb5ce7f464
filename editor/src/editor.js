// The composer's rich editor. The body textarea stays the form field and the one source of
// truth: every change here is written back to it as Markdown, with the `input` event the
// preview, autosave and checks already listen to. A text the editor would not write back
// exactly opens as source instead, so nothing is rewritten behind the editor's back.
// Every text shown comes from the page (data attributes and dialogs rendered by Jinja).
import { Editor } from "@tiptap/core";
import StarterKit from "@tiptap/starter-kit";
import Image from "@tiptap/extension-image";
import { Markdown } from "@tiptap/markdown";
import { CallToAction } from "./call-to-action.js";
import { allowedUrl } from "./urls.js";
import { askForLink, askForButton, askForImage } from "./dialogs.js";
import { buildToolbar } from "./toolbar.js";

const labelsBlock = document.getElementById("editor-labels");
const form = document.getElementById("composer");

function sameText(a, b) {
  return a.replace(/\s+$/, "") === b.replace(/\s+$/, "");
}

function mount(textarea, labels) {
  const language = textarea.closest("[data-language]").dataset.language;
  const holder = document.createElement("div");
  holder.className = "rich-editor";
  holder.dataset.testid = textarea.dataset.testid.replace(/^body-/, "editor-");
  const note = document.createElement("p");
  note.className = "notice small source-note";
  note.dataset.testid = "source-note";
  note.hidden = true;
  note.textContent = labels.sourceOnly;
  const surface = document.createElement("div");
  surface.className = "rich-editor-surface";
  textarea.before(holder);

  const editor = new Editor({
    element: surface,
    extensions: [
      // Underline has no Markdown. Autolinking and the trailing paragraph would change a
      // text the moment it is loaded, and so post it as an edit the editor never made.
      StarterKit.configure({
        underline: false,
        trailingNode: false,
        link: {
          openOnClick: false,
          autolink: false,
          linkOnPaste: true,
          protocols: ["mailto"],
          isAllowedUri: (url) => allowedUrl(url),
        },
      }),
      Image.configure({ inline: false, allowBase64: false }),
      CallToAction,
      Markdown,
    ],
    editorProps: {
      handlePaste: (_view, event) => takeImageFiles(event.clipboardData, event),
      handleDrop: (_view, event) => takeImageFiles(event.dataTransfer, event),
      attributes: {
        class: "rich-editor-content",
        role: "textbox",
        "aria-multiline": "true",
        "aria-label": labels.body,
        "data-testid": holder.dataset.testid + "-content",
      },
    },
  });

  let source = false;

  function showSource(on, withNote) {
    source = on;
    textarea.hidden = !on;
    surface.hidden = on;
    note.hidden = !withNote;
    toolbar.update({ editor, source });
  }

  // Parse the textarea's text and keep it only if writing it back gives the same text.
  function load() {
    const text = textarea.value;
    // Loading is not an edit: undo must not empty the editor.
    editor.chain().setMeta("addToHistory", false)
      .setContent(text, { contentType: "markdown", emitUpdate: false }).run();
    if (!sameText(editor.getMarkdown(), text)) {
      showSource(true, true);
      return false;
    }
    showSource(false, false);
    return true;
  }

  // A button or an image is a block of its own. Inserted last, it gets an empty paragraph
  // after it for the cursor: otherwise the next key typed would replace the selected block.
  function insertBlock(node) {
    editor.chain().focus().insertContent(node).run();
    if (editor.state.doc.lastChild.type.name === node.type) {
      editor.chain().insertContentAt(editor.state.doc.content.size, { type: "paragraph" }).focus("end").run();
    }
  }

  // A pasted or dropped picture goes to the media library first (re-encoded, without its
  // metadata), then the image dialog asks for its alt text.
  const uploadError = document.createElement("p");
  uploadError.className = "notice error small";
  uploadError.setAttribute("role", "alert");
  uploadError.dataset.testid = holder.dataset.testid + "-upload-error";
  uploadError.hidden = true;

  function takeImageFiles(transfer, event) {
    const files = Array.from((transfer && transfer.files) || []).filter(
      (file) => file.type.startsWith("image/"),
    );
    if (!files.length || !form.dataset.mediaUploadUrl) return false;
    event.preventDefault();
    uploadError.hidden = true;
    const body = new FormData();
    body.append("file", files[0]);
    fetch(form.dataset.mediaUploadUrl, {
      method: "POST",
      body,
      credentials: "same-origin",
      headers: { Accept: "application/json", "X-CSRFToken": form.elements.csrf_token.value },
    })
      .then((response) => response.json().then((result) => ({ ok: response.ok, result })))
      .then(({ ok, result }) => {
        if (!ok) throw new Error(result.error || labels.uploadFailed);
        return askForImage(language, { url: result.url, alt: (result.alt || {})[language] || "" });
      })
      .then((image) => {
        if (image) insertBlock({ type: "image", attrs: image });
        else editor.commands.focus();
      })
      .catch((error) => {
        uploadError.textContent = error.message || labels.uploadFailed;
        uploadError.hidden = false;
      });
    return true;
  }

  const actions = {
    link: () => askForLink(editor.getAttributes("link").href).then((href) => {
      const chain = editor.chain().focus().extendMarkRange("link");
      if (href === "") chain.unsetLink().run();
      else if (!href) chain.run();
      // With nothing selected the address itself becomes the link's text.
      else if (editor.state.selection.empty && !editor.isActive("link")) {
        chain.insertContent({ type: "text", text: href, marks: [{ type: "link", attrs: { href } }] }).run();
      } else chain.setLink({ href }).run();
    }),
    button: () => askForButton().then((button) => {
      if (button) insertBlock({ type: "callToAction", attrs: button });
      else editor.commands.focus();
    }),
    image: () => askForImage(language).then((image) => {
      if (image) insertBlock({ type: "image", attrs: image });
      else editor.commands.focus();
    }),
    source: () => {
      if (source) {
        if (load()) editor.commands.focus("end");
      } else {
        showSource(true, false);
        textarea.focus();
      }
    },
  };

  const toolbar = buildToolbar(labels, editor, actions);
  holder.append(toolbar.element, note, uploadError, surface);

  editor.on("update", () => {
    textarea.value = editor.getMarkdown().replace(/\s+$/, "");
    textarea.dispatchEvent(new Event("input", { bubbles: true }));
  });
  editor.on("transaction", () => toolbar.update({ editor, source }));

  // The field's label names the editor while the field is hidden.
  const label = form.querySelector(`label[for="${textarea.id}"]`);
  if (label) {
    label.addEventListener("click", (event) => {
      if (source) return;
      event.preventDefault();
      editor.commands.focus();
    });
  }

  // Saved blocks, restored texts: other code set the textarea, the editor follows it.
  textarea.addEventListener("markdown-replaced", () => {
    if (!source && load()) editor.commands.focus("end");
  });

  load();
}

if (labelsBlock && form) {
  const labels = { ...labelsBlock.dataset };
  form.querySelectorAll("[role=tabpanel][data-language] textarea[id$='-body']:enabled").forEach(
    (textarea) => mount(textarea, labels),
  );
}
