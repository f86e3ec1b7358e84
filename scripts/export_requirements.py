"""Writes the requirements files derived from requirements.lock (``make lock`` runs it).

requirements.lock (``uv pip compile``, hashes, every transitive package) is the one place versions
are decided. Two deployment targets install a subset of it, each from a file generated here:

- ``layers/dependencies/requirements.txt``: the Lambda layer ``sam build`` builds once for every
  function (boto3 + botocore, pydantic, aws-lambda-powertools[tracer] and everything they pull
  in), pinned with the lock's hashes so the layer holds exactly the versions tested here;
- ``training/requirements.txt``: what the SageMaker training toolkit installs on top of the
  PyTorch DLC, pinned to the lock's versions, without what the DLC itself provides (torch,
  torchvision, numpy) and without hashes (hash-checking mode would make pip refuse the DLC's
  own unhashed packages that these depend on).

A subset is the closure of its root packages over the lock's ``# via`` annotations (uv writes,
for each package, the packages that require it). ``--check`` writes nothing and exits 1 naming
each file that differs from what the lock generates (tests/unit/test_lock_exports.py runs it).
Hand-written: no library exports a dependency subset of a pip-compile lock; the standard library
(re, pathlib, argparse) is all it relies on.
"""

from __future__ import annotations

import argparse
import re
import sys
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
LOCK = ROOT / "requirements.lock"
PROJECT = "image-classifier-pipeline"

_PIN = re.compile(
    r"^(?P<name>[A-Za-z0-9][A-Za-z0-9._-]*)==(?P<version>[^\s;\\]+)"
    r"(?:\s*;\s*(?P<marker>[^\\]+?))?\s*\\?$"
)
_HASH = re.compile(r"^\s+(--hash=sha256:[0-9a-f]{64})")
_VIA = re.compile(r"^\s+#\s+(?:via\s+)?(?P<parent>[A-Za-z0-9][A-Za-z0-9._-]*)")


@dataclass(frozen=True)
class Export:
    """One generated file: the lock's closure of ``roots`` less ``provided``."""

    path: Path
    header: str
    roots: tuple[str, ...]
    provided: tuple[str, ...] = ()
    hashes: bool = True


@dataclass
class Pin:
    name: str
    version: str
    marker: str | None
    hashes: list[str] = field(default_factory=list)
    parents: set[str] = field(default_factory=set)

    def line(self, hashes: bool) -> str:
        marker = f" ; {self.marker}" if self.marker else ""
        head = f"{self.name}=={self.version}{marker}"
        if not hashes or not self.hashes:
            return head + "\n"
        return " \\\n".join([head, *(f"    {h}" for h in self.hashes)]) + "\n"


EXPORTS = (
    Export(
        path=ROOT / "layers" / "dependencies" / "requirements.txt",
        header=(
            "# The Lambda layer of the functions (template.yaml DependenciesLayer, built by its Makefile)\n"
            "# Generated from requirements.lock by `make lock` (scripts/export_requirements.py).\n"
        ),
        roots=("boto3", "botocore", "pydantic", "aws-lambda-powertools"),
    ),
    Export(
        path=ROOT / "training" / "requirements.txt",
        header=(
            "# Installed by the SageMaker training toolkit (source_dir/requirements.txt) on top of the\n"
            "# PyTorch DLC, which provides torch, torchvision and numpy. Generated from requirements.lock\n"
            "# by `make lock` (scripts/export_requirements.py).\n"
        ),
        roots=("pillow", "pydantic", "tqdm", "psutil", "nvidia-ml-py", "matplotlib"),
        provided=("numpy", "torch", "torchvision"),
        hashes=False,
    ),
)


def normalize(name: str) -> str:
    """PEP 503 name normalization (``Foo_Bar`` -> ``foo-bar``)."""
    return re.sub(r"[-_.]+", "-", name).lower()


def parse_lock(text: str) -> dict[str, Pin]:
    """The pins of a ``uv pip compile`` output, by normalized name, with hashes and ``# via`` parents."""
    pins: dict[str, Pin] = {}
    current: Pin | None = None
    for line in text.splitlines():
        if match := _PIN.match(line):
            current = Pin(normalize(match["name"]), match["version"], match["marker"])
            pins[current.name] = current
        elif current is not None and (hashed := _HASH.match(line)):
            current.hashes.append(hashed.group(1))
        elif current is not None and (via := _VIA.match(line)):
            current.parents.add(normalize(via["parent"]))
    return pins


def closure(pins: dict[str, Pin], roots: tuple[str, ...], provided: tuple[str, ...] = ()) -> list[Pin]:
    """The roots and every package required (directly or not) by one already in the set, sorted;
    ``provided`` packages are left out and not followed."""
    wanted = {normalize(r) for r in roots}
    missing = sorted(wanted - pins.keys())
    if missing:
        raise SystemExit(f"requirements.lock lacks {', '.join(missing)} (run `make lock`)")
    skip = {normalize(p) for p in provided}
    selected = wanted - skip
    grew = True
    while grew:
        found = {name for name, pin in pins.items() if name not in skip and pin.parents & selected}
        grew = not found <= selected
        selected |= found
    return [pins[name] for name in sorted(selected)]


def render(export: Export, pins: dict[str, Pin]) -> str:
    pins_wanted = closure(pins, export.roots, export.provided)
    return export.header + "".join(p.line(export.hashes) for p in pins_wanted)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="exit 1 if a file differs from the lock")
    parser.add_argument("--lock", type=Path, default=LOCK)
    args = parser.parse_args(argv)
    pins = parse_lock(args.lock.read_text())
    stale = []
    for export in EXPORTS:
        text = render(export, pins)
        current = export.path.read_text() if export.path.is_file() else None
        if current == text:
            continue
        if args.check:
            stale.append(str(export.path.relative_to(ROOT)))
        else:
            export.path.parent.mkdir(parents=True, exist_ok=True)
            export.path.write_text(text)
            print(f"wrote {export.path.relative_to(ROOT)}")
    if stale:
        print(f"not what requirements.lock generates (run `make lock`): {', '.join(stale)}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
