"""localcloud's ``LOCALCLOUD_*`` tunables: defaults, what a value changes, and a bad value named in
one line by the commands users run (not a traceback, not a silent default)."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from localcloud import environment
from localcloud.config import Settings
from localcloud.environment import EnvironmentProblem, LocalcloudEnvironment, from_environ
from localcloud.lambda_.functions import Functions
from localcloud.sagemaker.processes import gpu_count
from localcloud.sagemaker.training_run import stop_grace
from localcloud.store import Store


@pytest.fixture
def fresh(monkeypatch: pytest.MonkeyPatch) -> Iterator[pytest.MonkeyPatch]:
    """``os.environ`` without any LOCALCLOUD_* tunable, read afresh by ``current()``."""
    for name in environment.VARIABLES:
        monkeypatch.delenv(name, raising=False)
    environment.current.cache_clear()
    gpu_count.cache_clear()
    yield monkeypatch
    environment.current.cache_clear()
    gpu_count.cache_clear()


def test_nothing_set_or_empty_values_give_the_defaults() -> None:
    defaults = from_environ({})
    assert defaults == LocalcloudEnvironment.model_validate({})
    assert (defaults.port, defaults.api_port, defaults.lambda_concurrency) == (4566, 3000, 4)
    assert defaults.stop_grace_seconds == 120 and defaults.gpus is None and defaults.log_level == "INFO"
    assert from_environ(dict.fromkeys(environment.VARIABLES, "")) == defaults
    assert from_environ({"LOCALCLOUD_LAMBDA_CONCURRENCY": "  "}) == defaults


@pytest.mark.parametrize(
    ("variable", "value", "says"),
    [
        ("LOCALCLOUD_LAMBDA_CONCURRENCY", "four", "valid integer"),
        ("LOCALCLOUD_LAMBDA_CONCURRENCY", "0", "greater than or equal to 1"),
        ("LOCALCLOUD_STOP_GRACE_SECONDS", "soon", "valid number"),
        ("LOCALCLOUD_STOP_GRACE_SECONDS", "-1", "greater than or equal to 0"),
        ("LOCALCLOUD_STOP_GRACE_SECONDS", "nan", "finite number"),
        ("LOCALCLOUD_HEADER_SECONDS", "0", "greater than 0"),
        ("LOCALCLOUD_GPUS", "two", "valid integer"),
        ("LOCALCLOUD_GPUS", "-1", "greater than or equal to 0"),
        ("LOCALCLOUD_PORT", "70000", "less than or equal to 65535"),
        ("LOCALCLOUD_MAX_EXTRACT_BYTES", "64G", "valid integer"),
        ("LOCALCLOUD_LOG_LEVEL", "loud", "'DEBUG', 'INFO', 'WARNING', 'ERROR' or 'CRITICAL'"),
    ],
)
def test_a_bad_value_is_named_with_what_the_variable_takes(variable: str, value: str, says: str) -> None:
    with pytest.raises(EnvironmentProblem) as raised:
        from_environ({variable: value})
    assert str(raised.value).startswith(f"{variable}={value!r}: ")
    assert says in str(raised.value)


def test_every_bad_value_is_named_at_once() -> None:
    given = {"LOCALCLOUD_GPUS": "x", "LOCALCLOUD_LAMBDA_IDLE_SECONDS": "y", "LOCALCLOUD_PORT": "4567"}
    with pytest.raises(EnvironmentProblem) as raised:
        from_environ(given)
    message = str(raised.value)
    assert "LOCALCLOUD_GPUS='x'" in message and "LOCALCLOUD_LAMBDA_IDLE_SECONDS='y'" in message
    assert "LOCALCLOUD_PORT" not in message


def test_the_log_level_takes_any_case() -> None:
    assert from_environ({"LOCALCLOUD_LOG_LEVEL": " debug "}).log_level == "DEBUG"


def test_the_values_reach_what_they_set(fresh: pytest.MonkeyPatch, tmp_path: Path) -> None:
    fresh.setenv("LOCALCLOUD_LAMBDA_CONCURRENCY", "7")
    fresh.setenv("LOCALCLOUD_STOP_GRACE_SECONDS", "2.5")
    fresh.setenv("LOCALCLOUD_GPUS", "3")
    fresh.setenv("LOCALCLOUD_API_PORT", "3111")
    settings = Settings(state_dir=tmp_path)
    store = Store(tmp_path / "state.db")
    try:
        assert Functions(settings=settings, store=store).max_workers == 7
    finally:
        store.close()
    assert stop_grace() == 2.5
    assert gpu_count() == 3
    assert (settings.port, settings.api_port) == (4566, 3111)


@pytest.mark.parametrize("command", [["localcloud", "status"], ["pipeline_demo", "run", "--once"]])
def test_commands_name_a_bad_value_in_one_line(command: list[str], tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if k not in environment.VARIABLES}
    env["LOCALCLOUD_LAMBDA_CONCURRENCY"] = "four"
    done = subprocess.run(
        [sys.executable, "-m", *command, "--state-dir", str(tmp_path / "state")],
        env=env,
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 1, done.stderr
    assert done.stderr.strip().splitlines() == [
        f"{command[0].replace('_', '-')} {command[1]}: LOCALCLOUD_LAMBDA_CONCURRENCY='four': "
        "Input should be a valid integer, unable to parse string as an integer"
    ]
    assert not (tmp_path / "state").exists()  # nothing was started
