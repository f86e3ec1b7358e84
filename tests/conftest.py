"""Fixtures for every test folder: ``module_tmp_path``, a module's scratch directory that goes when
the module is done.

pytest deletes a passing test's ``tmp_path`` at once (``tmp_path_retention_policy = "failed"`` in
pyproject.toml), but ``tmp_path_factory`` directories only when the session ends; the modules that
keep a localcloud and its jobs for all their tests (hundreds of MB each) put them here instead, so
the disk holds one such module's state at a time, not every one's.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest


@pytest.fixture(scope="module")
def module_tmp_path(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Path]:
    """A directory shared by one module's tests, deleted after its last test when none of the
    module's tests failed and the retention policy is "failed" or "none" (kept, like a failing
    test's ``tmp_path``, otherwise)."""
    path = tmp_path_factory.mktemp(request.module.__name__.rpartition(".")[2][:30])
    failed_before = request.session.testsfailed
    yield path
    policy = request.config.getini("tmp_path_retention_policy")
    if policy == "none" or (policy == "failed" and request.session.testsfailed == failed_before):
        shutil.rmtree(path, ignore_errors=True)
