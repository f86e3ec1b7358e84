"""Lambda layers for localcloud's workers, on the import path where Lambda puts them.

Lambda extracts a function's layers into ``/opt`` in order (a later layer's files replace an
earlier one's) and its Python runtime puts ``/opt/python/lib/python3.X/site-packages`` and
``/opt/python`` on ``sys.path`` after the function's code. localcloud runs layers in place from
local directories:

- a layer directory holding ``python/`` (a ContentUri laid out for Lambda, or a layer that
  ``sam build`` built, e.g. ``.aws-sam/build/DependenciesLayer``): its
  ``python/lib/python3.X/site-packages`` and ``python/`` go on the worker's ``PYTHONPATH`` after
  the function's code, the last layer first (``python_paths``);
- a layer that ``sam build`` builds (``Metadata: BuildMethod``: ``python3.X``, or ``makefile``
  whose Makefile installs the requirements.txt next to it, as the application's does) from its
  requirements.txt and that is not built here: nothing goes on the path, the worker uses
  localcloud's own environment's packages, and each pin that environment does not satisfy is
  reported (``warnings``; ``report`` logs them once per layer, however many functions use it),
  so a difference from what the deployed layer holds is visible;
- any other directory: nothing of it is importable (Lambda too imports only from ``/opt/python``),
  which is reported.

Relies on packaging (requirement lines and markers) and importlib.metadata (installed versions).
"""

from __future__ import annotations

import functools
import logging
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path

from packaging.requirements import InvalidRequirement, Requirement

log = logging.getLogger("localcloud.lambda")


@dataclass(frozen=True)
class Layer:
    """A layer as a local directory: its name (for messages), content and SAM BuildMethod."""

    name: str
    path: Path
    build_method: str | None = None

    def importable(self) -> list[Path]:
        """The directories Lambda's Python runtime imports from once the layer is in /opt."""
        base = self.path / "python"
        version = f"python{sys.version_info.major}.{sys.version_info.minor}"
        return [p for p in (base / "lib" / version / "site-packages", base) if p.is_dir()]

    def requirements(self) -> Path | None:
        """The requirements file of a layer `sam build` would build, when it is not built here."""
        if not self.build_method or (self.path / "python").is_dir():
            return None
        path = self.path / "requirements.txt"
        return path if path.is_file() else None


def python_paths(layers: Sequence[Layer]) -> list[Path]:
    """PYTHONPATH entries for a function's layers: the last layer first, as its files win in /opt."""
    return [path for layer in reversed(layers) for path in layer.importable()]


def requirement_lines(text: str) -> list[str]:
    """The requirements of a pip requirements file: continuations joined, comments, options
    (``--hash`` ...) and blank lines dropped."""
    lines = []
    for line in text.replace("\\\n", " ").splitlines():
        words = line.split(" #", 1)[0].split()
        kept = [w for w in words if not w.startswith("-")]
        if kept and not line.lstrip().startswith(("#", "-")):
            lines.append(" ".join(kept))
    return lines


def _pin_warning(layer: Layer, line: str) -> str | None:
    try:
        req = Requirement(line)
    except InvalidRequirement as exc:
        return f"layer {layer.name}: cannot read requirement {line!r} ({exc})"
    if req.marker is not None and not req.marker.evaluate():
        return None
    try:
        installed = metadata.version(req.name)
    except metadata.PackageNotFoundError:
        return (
            f"layer {layer.name} pins {req.name}{req.specifier} but localcloud's environment does not "
            f"have {req.name}: functions importing it fail here"
        )
    if req.specifier.contains(installed, prereleases=True):
        return None
    return (
        f"layer {layer.name} pins {req.name}{req.specifier} but localcloud's environment has "
        f"{req.name} {installed}: functions run with {installed} here"
    )


def warnings(layer: Layer) -> list[str]:
    """What differs between the layer as deployed and what localcloud's workers import."""
    if layer.importable():
        return []
    requirements = layer.requirements()
    if requirements is None:
        return [
            f"layer {layer.name}: {layer.path} has no python/ directory (nor a requirements.txt with a "
            f"BuildMethod): nothing of it is importable"
        ]
    found = (_pin_warning(layer, line) for line in requirement_lines(requirements.read_text()))
    return [w for w in found if w is not None]


def report(layers: Sequence[Layer]) -> None:
    """Log the layers' warnings, once per layer and version of its requirements file."""
    for layer in layers:
        requirements = layer.requirements()
        _report(layer, requirements.stat().st_mtime_ns if requirements else 0)


@functools.lru_cache(maxsize=256)
def _report(layer: Layer, version: int) -> None:
    for warning in warnings(layer):
        log.warning("%s", warning)
