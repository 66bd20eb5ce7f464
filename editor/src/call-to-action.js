// A call-to-action button: a paragraph of its own, `::button[Label](https://…)`, as the
// mail renderer reads it. Shown as a button in the editor; written back exactly as read.
import { Node, mergeAttributes } from "@tiptap/core";

const LINE = /^::button\[([^\]\n]+)\]\(([^()\s]+)\)[ \t]*(?:\n+|$)/;

export const CallToAction = Node.create({
  name: "callToAction",
  group: "block",
  atom: true,
  selectable: true,
  draggable: true,

  addAttributes() {
    return { label: { default: "", rendered: false }, href: { default: "", rendered: false } };
  },

  parseHTML() {
    return [{
      tag: "p[data-call-to-action]",
      getAttrs: (element) => ({
        label: element.textContent,
        href: element.querySelector("a") ? element.querySelector("a").getAttribute("href") : "",
      }),
    }];
  },

  renderHTML({ node, HTMLAttributes }) {
    return [
      "p",
      mergeAttributes(HTMLAttributes, { "data-call-to-action": "", class: "call-to-action" }),
      ["a", { href: node.attrs.href, class: "button", "data-testid": "call-to-action" }, node.attrs.label],
    ];
  },

  renderMarkdown: (node) => `::button[${node.attrs.label}](${node.attrs.href})`,

  parseMarkdown: (token, helpers) => helpers.createNode("callToAction", { label: token.label, href: token.href }),

  markdownTokenizer: {
    name: "callToAction",
    level: "block",
    start: (src) => {
      const found = src.match(/^::button\[/m);
      return found ? found.index : -1;
    },
    tokenize: (src) => {
      const found = LINE.exec(src);
      if (!found) return undefined;
      return { type: "callToAction", raw: found[0], label: found[1], href: found[2] };
    },
  },

  addCommands() {
    return {
      insertCallToAction: (attrs) => ({ commands }) => commands.insertContent({ type: this.name, attrs }),
    };
  },
});
