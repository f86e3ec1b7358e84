"""Fixtures shared by the integration tests: the acceptance dataset (generated once per session)."""

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
