"""Confinement: every local path localcloud derives from untrusted text stays under its root.

S3 keys, tar members and request paths are chosen by whoever can write an object or call the
API. Before localcloud turns one into a file name it goes through :func:`confined`, which refuses
absolute names, ``..`` segments, NUL bytes and anything that resolves (symlinks followed)
outside the root, so a key such as ``p/../../x`` or an archive member ``/etc/x`` can never write
beyond the folder it is meant for. One helper, used by S3 prefix downloads, training channels,
checkpoints, and model/code archive extraction.

Relies on the standard library (pathlib).
"""

from __future__ import annotations

from pathlib import Path, PurePosixPath

from .errors import AwsError


class Escape(AwsError):
    """A name that would land outside its root (a ValidationException with the name in it)."""

    def __init__(self, name: str, root: Path, why: str) -> None:
        super().__init__("ValidationException", f"{name!r} cannot be a local file name under {root}: {why}")


def confined(root: Path, relative: str, *, what: str = "name") -> Path:
    """``root / relative`` after checking it cannot leave ``root``; raises :class:`Escape`."""
    if not relative:
        raise Escape(relative, root, f"the {what} is empty")
    if "\x00" in relative:
        raise Escape(relative, root, f"the {what} contains a NUL byte")
    pure = PurePosixPath(relative)
    if pure.is_absolute():
        raise Escape(relative, root, f"the {what} is an absolute path")
    if ".." in pure.parts:
        raise Escape(relative, root, f"the {what} has a '..' segment")
    target = root / pure
    base = root.resolve()
    if not target.resolve().is_relative_to(base):  # a symlink on the way points elsewhere
        raise Escape(relative, root, f"the {what} resolves outside the folder")
    return target
