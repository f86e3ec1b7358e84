"""localcloud/lambda_/layers.py: where a layer's code is imported from, and what is reported when
localcloud's environment stands in for a layer it did not build."""

from __future__ import annotations

import sys
from importlib import metadata
from pathlib import Path

import pytest

from localcloud.lambda_.layers import Layer, python_paths, requirement_lines, warnings

ROOT = Path(__file__).resolve().parents[3]


def test_built_layers_go_on_the_path_last_layer_first(tmp_path: Path) -> None:
    site = tmp_path / "b" / "python" / "lib" / f"python{sys.version_info[0]}.{sys.version_info[1]}"
    (site / "site-packages").mkdir(parents=True)
    (tmp_path / "a" / "python").mkdir(parents=True)
    a, b = Layer("a", tmp_path / "a", "python3.12"), Layer("b", tmp_path / "b")
    assert python_paths([a, b]) == [
        site / "site-packages",
        tmp_path / "b" / "python",
        tmp_path / "a" / "python",
    ]
    assert warnings(a) == [] and warnings(b) == []  # built: nothing stands in for it


def test_a_layer_without_python_directory_is_reported(tmp_path: Path) -> None:
    (tmp_path / "mod.py").write_text("")
    (message,) = warnings(Layer("Plain", tmp_path))
    assert "layer Plain" in message and "no python/ directory" in message
    assert python_paths([Layer("Plain", tmp_path)]) == []


def test_the_generated_layer_requirements_are_read_as_pins() -> None:
    text = (ROOT / "layers" / "dependencies" / "requirements.txt").read_text()
    lines = requirement_lines(text)
    assert f"boto3=={metadata.version('boto3')}" in lines
    assert all("--hash" not in line and not line.startswith("#") for line in lines)
    assert requirement_lines(
        "a==1 \\\n    --hash=sha256:00 # c\n-r other.txt\n\nb>=2 ; python_version > '3'\n"
    ) == [
        "a==1",
        "b>=2 ; python_version > '3'",
    ]


def test_an_unreadable_pin_is_reported(tmp_path: Path) -> None:
    (tmp_path / "requirements.txt").write_text("not a requirement ===\n")
    (message,) = warnings(Layer("Deps", tmp_path, "python3.12"))
    assert message.startswith("layer Deps: cannot read requirement 'not a requirement ==='")


@pytest.mark.parametrize("method", ["python3.12", "makefile"])
def test_a_built_layer_not_built_here_reports_the_pins_it_misses(tmp_path: Path, method: str) -> None:
    """The application's layer is a Makefile build of its requirements.txt: localcloud runs on its
    own packages and says which pins differ, as for a python3.X build."""
    (tmp_path / "requirements.txt").write_text("pytest==0.0.1 \\\n    --hash=sha256:00\n")
    (message,) = warnings(Layer("Deps", tmp_path, method))
    assert "pytest" in message and "0.0.1" in message
    assert warnings(Layer("Deps", tmp_path)) != [message]  # no BuildMethod: not a build, nothing importable
