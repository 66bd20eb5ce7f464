"""The Markdown editors write, with two blocks of our own that become MJML elements:

- a call-to-action button, a paragraph of its own: ``::button[Register](https://…)``
- an image block, a paragraph holding only an image: ``![Alt text](https://… "Caption")``
- an event block, a paragraph of its own: ``::event[12]``, the event's card with RSVP
  links (invitations.py)

Everything else is Markdown ("extra" and "sane lists"), sanitized so no script, style or
unsafe link reaches a mail. A block whose address is not allowed stays ordinary text.
"""

import re
import secrets
from dataclasses import dataclass
from urllib.parse import urlsplit

import markdown
import nh3
from flask_babel import gettext as _
from markdown.extensions import Extension
from markdown.treeprocessors import Treeprocessor
from markupsafe import Markup

SANITIZED_SCHEMES = {"http", "https", "mailto"}
"""The only link schemes a mail keeps; the sanitizer drops every other link."""
BUTTON_SCHEMES = SANITIZED_SCHEMES
IMAGE_SCHEMES = {"http", "https"}

BUTTON = re.compile(r"::button\[(?P<label>(?:\\.|[^\]\\\n])+)\]\((?P<url>[^\s()]+)\)")
IMAGE = re.compile(
    r'!\[(?P<alt>(?:\\.|[^\]\\\n])*)\]\((?P<url>[^\s()]+)(?:\s+"(?P<caption>[^"\n]*)")?\)'
)
# The rich editor may write the brackets escaped.
EVENT = re.compile(r"::event\\?\[(?P<id>[0-9]{1,9})\\?\]")
ESCAPED = re.compile(r"\\([\\`*_{}\[\]()#+\-.!<>|~\"])")
MARKDOWN_EXTENSIONS = ["extra", "sane_lists"]


@dataclass(frozen=True)
class TextBlock:
    html: Markup  # sanitized
    kind: str = "text"


@dataclass(frozen=True)
class ButtonBlock:
    label: str
    url: str
    kind: str = "button"


@dataclass(frozen=True)
class ImageBlock:
    alt: str
    url: str
    caption: str
    kind: str = "image"


@dataclass(frozen=True)
class EventBlock:
    event_id: int
    kind: str = "event"


Block = TextBlock | ButtonBlock | ImageBlock | EventBlock


def markdown_to_html(body: str) -> str:
    """Plain Markdown (no blocks of our own) as sanitized HTML: for layouts' header and footer."""
    html = markdown.markdown(body, extensions=MARKDOWN_EXTENSIONS, output_format="html")
    return sanitized(html)


def sanitized(html: str) -> str:
    return nh3.clean(html, url_schemes=SANITIZED_SCHEMES)


def _unescaped(text: str) -> str:
    return ESCAPED.sub(r"\1", text).strip()


def _allowed(url: str, schemes: set[str]) -> bool:
    try:
        parts = urlsplit(url)
    except ValueError:
        return False
    if parts.scheme.lower() not in schemes:
        return False
    return parts.scheme.lower() == "mailto" or bool(parts.hostname)


def block_of(paragraph: str) -> ButtonBlock | ImageBlock | EventBlock | None:
    """The button, image or event a paragraph's source stands for, if it is one and its
    address is allowed."""
    paragraph = paragraph.strip()
    if match := EVENT.fullmatch(paragraph):
        return EventBlock(int(match["id"]))
    if match := BUTTON.fullmatch(paragraph):
        label, url = _unescaped(match["label"]), match["url"]
        if label and _allowed(url, BUTTON_SCHEMES):
            return ButtonBlock(label, url)
    elif match := IMAGE.fullmatch(paragraph):
        url = match["url"]
        if _allowed(url, IMAGE_SCHEMES):
            return ImageBlock(_unescaped(match["alt"]), url, _unescaped(match["caption"] or ""))
    return None


class _BlockFinder(Treeprocessor):
    """Replaces each top-level paragraph that is a block by a marker no editor can type.

    It runs before inline Markdown, so a paragraph's text is still its source, and only
    the document's own paragraphs are looked at: a button inside a list, a quote or code
    stays text.
    """

    def __init__(self, md, marker: str, found: list):
        super().__init__(md)
        self.marker = marker
        self.found = found

    def run(self, root):
        for element in root:
            if element.tag != "p" or len(element) or not element.text:
                continue
            if block := block_of(element.text):
                element.text = f"{self.marker}{len(self.found)}"
                self.found.append((element.text, block))


class _Blocks(Extension):
    def __init__(self, marker: str, found: list):
        super().__init__()
        self.marker = marker
        self.found = found

    def extendMarkdown(self, md):  # noqa: N802 (Python-Markdown's name)
        md.treeprocessors.register(_BlockFinder(md, self.marker, self.found), "nl_blocks", 25)


def body_blocks(body: str) -> list[Block]:
    """The body as the mail lays it out: sanitized HTML between buttons and images."""
    marker = f"nlblock{secrets.token_hex(8)}x"
    found: list[tuple[str, Block]] = []
    html = markdown.markdown(
        body, extensions=[*MARKDOWN_EXTENSIONS, _Blocks(marker, found)], output_format="html"
    )
    blocks: list[Block] = []
    for text, block in found:
        before, html = html.split(f"<p>{text}</p>", 1)
        if before.strip():
            blocks.append(TextBlock(Markup(sanitized(before).strip())))
        blocks.append(block)
    if html.strip():
        blocks.append(TextBlock(Markup(sanitized(html).strip())))
    return blocks


def event_ids(body: str) -> list[int]:
    """The events the body has a block for, in order."""
    return [block.event_id for block in body_blocks(body) if isinstance(block, EventBlock)]


def body_text(body: str, event_texts: dict[int, str] | None = None) -> str:
    """The body for the text part, in the current locale: a button reads "Label: URL", an
    image "[alt]" and its caption, an event the text ``event_texts`` gives it, the rest is
    the Markdown as written."""
    lines = body.replace("\r\n", "\n").split("\n")
    fenced = False
    for index, line in enumerate(lines):
        if line.lstrip().startswith(("```", "~~~")):
            fenced = not fenced
        alone = (index == 0 or not lines[index - 1].strip()) and (
            index == len(lines) - 1 or not lines[index + 1].strip()
        )
        if fenced or not alone or line[:1].isspace():
            continue
        block = block_of(line)
        if isinstance(block, ButtonBlock):
            lines[index] = _("%(label)s: %(url)s", label=block.label, url=block.url)
        elif isinstance(block, ImageBlock):
            alt = f"[{block.alt}]" if block.alt else ""
            lines[index] = " ".join(part for part in (alt, block.caption) if part)
        elif isinstance(block, EventBlock):
            lines[index] = (event_texts or {}).get(block.event_id, "")
    return "\n".join(lines)
