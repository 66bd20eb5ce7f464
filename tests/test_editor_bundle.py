"""The committed rich-editor bundle: built from the sources as they are now, runnable under
the pages' script policy, and shipped with the licence of every package it is built from.
No node or npm is needed here: the hash scripts/build-editor writes is recomputed."""

import hashlib
import json
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
EDITOR = ROOT / "editor"
BUNDLE = ROOT / "newsletter" / "static" / "editor" / "editor.js"
LICENSES = ROOT / "newsletter" / "static" / "editor" / "LICENSES.txt"
PERMISSIVE = {"MIT", "ISC", "BSD-2-Clause", "BSD-3-Clause", "Apache-2.0", "0BSD"}


def sources_digest() -> str:
    """The digest scripts/build-editor writes: sha256sum's lines for each source, sorted by
    path, hashed again."""
    files = [EDITOR / "package.json", EDITOR / "package-lock.json"]
    files += [path for path in (EDITOR / "src").rglob("*") if path.is_file()]
    names = sorted(str(path.relative_to(ROOT)) for path in files)
    lines = "".join(
        f"{hashlib.sha256((ROOT / name).read_bytes()).hexdigest()}  {name}\n" for name in names
    )
    return hashlib.sha256(lines.encode()).hexdigest()


def bundled_packages() -> dict[str, str]:
    """Name and version of every package in the lock file but the build tools."""
    lock = json.loads((EDITOR / "package-lock.json").read_text())
    return {
        path.rsplit("node_modules/", 1)[1]: entry["version"]
        for path, entry in lock["packages"].items()
        if path and not entry.get("dev")
    }


def test_the_committed_bundle_is_built_from_the_current_sources():
    header = BUNDLE.read_text().split("\n", 1)[0]
    found = re.search(r"sources-sha256: ([0-9a-f]{64})", header)
    assert found, "editor.js has no sources hash: run scripts/build-editor"
    assert found[1] == sources_digest(), (
        "editor/ changed since the bundle was built: run scripts/build-editor"
    )


def test_the_bundle_runs_under_a_policy_without_eval():
    code = BUNDLE.read_text()
    assert len(code) > 10_000  # the real bundle, not a placeholder
    assert "eval(" not in code
    assert not re.search(r"new\s+Function\b", code)


def test_the_licences_name_every_bundled_package_and_all_are_permissive():
    licences = LICENSES.read_text()
    headings = re.findall(r"^(\S+) (\d\S*) \(([^)]+)\)$", licences, re.MULTILINE)
    named = {name: version for name, version, _ in headings}
    assert named == bundled_packages()
    assert {licence for *_, licence in headings} <= {
        "MIT",
        "ISC",
        "BSD-2-Clause",
        "BSD-3-Clause",
        "Apache-2.0",
        "0BSD",
    }
    assert "@tiptap/core" in named and "prosemirror-model" in named
    assert "no licence file" not in licences  # each notice the licences ask to be kept
