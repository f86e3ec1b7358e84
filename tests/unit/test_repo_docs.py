"""The repository documents itself: no file points at documents outside it, every
``docs/<file>.md#<section>`` reference in a tracked file names a page and heading that exist, and
README.md's workflow diagram names every state of the state machine (and no choice it lacks).

Reads the tracked files (``git ls-files``); relies on git and the standard library.
"""

from __future__ import annotations

import json
import re
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
# Built from pieces so this file does not match itself.
OUTSIDE_REFERENCES = ("../" + "shared", "DES" + "IGN 3.", "DES" + "IGN.md")
DOC_LINK = re.compile(r"docs/([a-z0-9_-]+\.md)(?:#([a-z0-9-]+))?")


def _tracked_text_files() -> dict[str, str]:
    try:
        listed = subprocess.run(
            ["git", "ls-files", "-z"], cwd=ROOT, capture_output=True, check=True, timeout=60
        ).stdout.decode()
    except (OSError, subprocess.CalledProcessError) as error:  # pragma: no cover - not a checkout
        pytest.skip(f"not a git checkout: {error}")
    texts = {}
    for name in filter(None, listed.split("\0")):
        path = ROOT / name
        if not path.is_file():
            continue
        try:
            texts[name] = path.read_text(encoding="utf-8")
        except UnicodeDecodeError:  # binary
            continue
    return texts


def _anchor(heading: str) -> str:
    """GitHub's anchor for a Markdown heading: lower case, punctuation dropped, spaces to hyphens."""
    text = re.sub(r"[^\w\- ]", "", heading.strip().lower())
    return text.replace(" ", "-")


def test_no_tracked_file_points_outside_the_repository() -> None:
    offenders = [
        f"{name}:{number}: {line.strip()}"
        for name, text in _tracked_text_files().items()
        for number, line in enumerate(text.splitlines(), 1)
        if any(ref in line for ref in OUTSIDE_REFERENCES)
    ]
    assert not offenders, "references to documents outside the repository (use docs/):\n" + "\n".join(
        offenders
    )


def test_docs_references_name_existing_sections() -> None:
    files = _tracked_text_files()
    broken = []
    for name, text in files.items():
        for match in DOC_LINK.finditer(text):
            page, anchor = match.group(1), match.group(2)
            doc = files.get(f"docs/{page}")
            if doc is None:
                broken.append(f"{name}: docs/{page} does not exist")
                continue
            headings = {_anchor(line.lstrip("#")) for line in doc.splitlines() if line.startswith("#")}
            if anchor and anchor not in headings:
                broken.append(f"{name}: docs/{page} has no section #{anchor}")
    assert not broken, "\n".join(broken)


def _readme_diagram() -> str:
    """README.md's workflow diagram: the code block that starts at the state machine's StartAt."""
    blocks: list[str] = []
    block: list[str] | None = None
    for line in (ROOT / "README.md").read_text(encoding="utf-8").splitlines():
        if not line.startswith("```"):
            if block is not None:
                block.append(line)
        elif block is None:  # a fence opens a block...
            block = []
        else:  # ...or closes the open one
            blocks.append("\n".join(block))
            block = None
    start = json.loads((ROOT / "statemachine" / "pipeline.asl.json").read_text())["StartAt"]
    found = [text for text in blocks if text.startswith(start)]
    assert len(found) == 1, f"README.md has no code block starting with {start}"
    return found[0]


def test_the_readmes_workflow_diagram_names_every_state() -> None:
    states = json.loads((ROOT / "statemachine" / "pipeline.asl.json").read_text())["States"]
    diagram = _readme_diagram()

    def named(name: str) -> bool:
        return re.search(rf"(?<![\w?]){re.escape(name)}(?![\w?])", diagram) is not None

    assert [name for name in states if not named(name)] == []
    choices = set(re.findall(r"\b\w+\?", diagram))  # what the diagram draws as a choice
    assert choices <= set(states), choices - set(states)
