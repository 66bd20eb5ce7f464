"""A word-level diff of two texts as escaped HTML: words only in the old text in ``<del>``,
words only in the new one in ``<ins>``. Used to compare versions of a variant."""

import difflib
import re

from markupsafe import Markup, escape

# Words, runs of white space and single punctuation marks: a changed comma is one token.
TOKENS = re.compile(r"\w+|\s+|[^\w\s]")
# SequenceMatcher is quadratic at worst; beyond this the texts are compared as wholes.
MAX_TOKENS = 20_000


def word_diff(old: str, new: str) -> Markup:
    before, after = TOKENS.findall(old), TOKENS.findall(new)
    if len(before) + len(after) > MAX_TOKENS:
        return _replaced(old, new) if old != new else escape(old)
    parts = []
    matcher = difflib.SequenceMatcher(None, before, after, autojunk=False)
    for operation, start, end, new_start, new_end in matcher.get_opcodes():
        if operation == "equal":
            parts.append(escape("".join(before[start:end])))
        else:
            parts.append(_replaced("".join(before[start:end]), "".join(after[new_start:new_end])))
    return Markup("").join(parts)


def _replaced(old: str, new: str) -> Markup:
    deleted = Markup("<del>%s</del>") % old if old else Markup("")
    inserted = Markup("<ins>%s</ins>") % new if new else Markup("")
    return deleted + inserted
