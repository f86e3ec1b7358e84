"""Fixtures shared by the integration tests: the acceptance dataset and a small dataset, each
generated once per session.

``sample_data`` is what the acceptance run must learn from (valid accuracy >= 0.85); the ``job``
fixture's runs, which check what train.py does (resume, signals, DDP), not what it learns, train on
``small_data``, about half the training images and a third of the rest.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from classifier.sample_data import generate


@pytest.fixture(scope="session")
def sample_data(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The acceptance dataset: 4 classes, 100/25/25 images a class, 96 px."""
    return generate(
        tmp_path_factory.mktemp("sample-data"),
        classes=4,
        train_per_class=100,
        valid_per_class=25,
        test_per_class=25,
        size=96,
        seed=0,
    )


@pytest.fixture(scope="session")
def small_data(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """4 classes, 48/8/8 images a class, 64 px: 6 steps an epoch at batch 32."""
    return generate(
        tmp_path_factory.mktemp("small-data"),
        classes=4,
        train_per_class=48,
        valid_per_class=8,
        test_per_class=8,
        size=64,
        seed=0,
    )
