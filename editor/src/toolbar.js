// The toolbar above each editor. Buttons keep the editor's focus when clicked, so the
// next key typed lands in the text and not on the button.
const BUTTONS = [
  { name: "heading1", run: (c) => c.toggleHeading({ level: 1 }), active: (e) => e.isActive("heading", { level: 1 }) },
  { name: "heading2", run: (c) => c.toggleHeading({ level: 2 }), active: (e) => e.isActive("heading", { level: 2 }) },
  { name: "heading3", run: (c) => c.toggleHeading({ level: 3 }), active: (e) => e.isActive("heading", { level: 3 }) },
  { name: "bold", run: (c) => c.toggleBold(), active: (e) => e.isActive("bold") },
  { name: "italic", run: (c) => c.toggleItalic(), active: (e) => e.isActive("italic") },
  { name: "bulletList", run: (c) => c.toggleBulletList(), active: (e) => e.isActive("bulletList") },
  { name: "orderedList", run: (c) => c.toggleOrderedList(), active: (e) => e.isActive("orderedList") },
  { name: "link", action: "link", active: (e) => e.isActive("link") },
  { name: "quote", run: (c) => c.toggleBlockquote(), active: (e) => e.isActive("blockquote") },
  { name: "button", action: "button" },
  { name: "image", action: "image" },
  { name: "horizontalRule", run: (c) => c.setHorizontalRule() },
  { name: "undo", run: (c) => c.undo(), enabled: (e) => e.can().undo() },
  { name: "redo", run: (c) => c.redo(), enabled: (e) => e.can().redo() },
  { name: "source", action: "source" },
];

export function buildToolbar(labels, editor, actions) {
  const element = document.createElement("div");
  element.className = "rich-editor-toolbar";
  element.setAttribute("role", "toolbar");
  element.setAttribute("aria-label", labels.toolbar);
  const buttons = BUTTONS.map((spec) => {
    const button = document.createElement("button");
    button.type = "button";
    button.className = "secondary";
    button.textContent = labels[spec.name];
    button.title = labels[spec.name];
    button.dataset.command = spec.name;
    button.addEventListener("mousedown", (event) => event.preventDefault());
    button.addEventListener("click", () => {
      if (spec.action) actions[spec.action]();
      else spec.run(editor.chain().focus()).run();
    });
    element.append(button);
    return { spec, button };
  });

  function update({ source }) {
    buttons.forEach(({ spec, button }) => {
      if (spec.name === "source") {
        button.setAttribute("aria-pressed", source ? "true" : "false");
        return;
      }
      button.disabled = source || (spec.enabled ? !spec.enabled(editor) : false);
      if (spec.active) button.setAttribute("aria-pressed", !source && spec.active(editor) ? "true" : "false");
    });
  }

  return { element, update };
}
