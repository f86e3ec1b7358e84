"""Fixtures for every test folder: ``module_tmp_path``, a module's scratch directory that goes when
the module is done.

pytest deletes a passing test's ``tmp_path`` at once (``tmp_path_retention_policy = "failed"`` in
pyproject.toml), but ``tmp_path_factory`` directories only when the session ends; the modules that
keep a localcloud and its jobs for all their tests (hundreds of MB each) put them here instead, so
the disk holds one such module's state at a time, not every one's.

``make test`` runs the suite on pytest-xdist workers (``-n``, one file per work unit:
``--dist loadfile``, docs/testing.md). Two things make that pay on a small machine:

* The workers take the files with end-to-end tests first, then the other slow ones, then the rest
  (``pytest_collection_modifyitems``; a stable sort, so each file's tests keep their order): the
  minutes-long files start at once instead of being left for the end, where one worker would run
  them while the other has nothing to do. A run without workers keeps the usual order.
* In a worker, PyTorch's OpenMP threads (libgomp: the in-process models and every training job and
  model server the tests start, which inherit the environment) spin only briefly before they
  sleep (:func:`localcloud.sagemaker.openmp.brief_openmp_spin`, as localcloud's model servers and
  training jobs do), unless the environment already chose: by default each idle thread spins
  ~300,000 times, on cores the other worker is using.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from localcloud.sagemaker.openmp import brief_openmp_spin

# Before any test module imports torch: libgomp reads it when it is loaded.
if os.environ.get("PYTEST_XDIST_WORKER"):
    brief_openmp_spin(os.environ)


def _weight(item: pytest.Item) -> int:
    """0 for a file with end-to-end tests, 1 for one with other slow tests, 2 for the rest."""
    if item.get_closest_marker("e2e"):
        return 0
    return 1 if item.get_closest_marker("slow") else 2


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """On xdist workers, the heaviest files first (see the module docstring)."""
    if not hasattr(config, "workerinput"):
        return
    weight: dict[Path, int] = {}
    for item in items:
        weight[item.path] = min(weight.get(item.path, 2), _weight(item))
    items.sort(key=lambda item: weight[item.path])


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
