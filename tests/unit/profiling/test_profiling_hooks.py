"""smdebug / SageMaker Profiler hooks: registered only when importable and configured, never required."""

from __future__ import annotations

import sys
from pathlib import Path
from types import ModuleType, SimpleNamespace
from typing import Any

import pytest

from classifier.profiling import hooks


class FakeHook:
    created = 0

    def __init__(self) -> None:
        self.modules: list[Any] = []
        self.losses: list[Any] = []

    @classmethod
    def create_from_json_file(cls) -> FakeHook:
        cls.created += 1
        return cls()

    def register_module(self, module: Any) -> None:
        self.modules.append(module)

    def register_loss(self, loss: Any) -> None:
        self.losses.append(loss)


@pytest.fixture
def sm_config(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setattr(hooks, "SM_CONFIG_DIR", tmp_path)
    monkeypatch.delenv("SMDEBUG_CONFIG_FILE_PATH", raising=False)
    return tmp_path


@pytest.fixture
def fake_smdebug(monkeypatch: pytest.MonkeyPatch) -> None:
    package = ModuleType("smdebug")
    pytorch = ModuleType("smdebug.pytorch")
    pytorch.Hook = FakeHook  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "smdebug", package)
    monkeypatch.setitem(sys.modules, "smdebug.pytorch", pytorch)


def test_no_hooks_without_configuration(sm_config: Path, fake_smdebug: None) -> None:
    registered = hooks.FrameworkHooks.register()
    assert registered.names == []


def test_smdebug_hook_registered_when_importable_and_configured(sm_config: Path, fake_smdebug: None) -> None:
    (sm_config / hooks.DEBUG_HOOK_CONFIG).write_text("{}")
    registered = hooks.FrameworkHooks.register()
    assert registered.names == ["smdebug"]
    model, loss = object(), object()
    registered.watch_model(model, loss)
    assert registered.smdebug_hook.modules == [model]
    assert registered.smdebug_hook.losses == [loss]


def test_configured_but_not_installed_is_ignored(sm_config: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (sm_config / hooks.DEBUG_HOOK_CONFIG).write_text("{}")
    (sm_config / hooks.PROFILER_CONFIG).write_text("{}")
    monkeypatch.setitem(sys.modules, "smdebug.pytorch", None)  # import raises ImportError
    monkeypatch.setitem(sys.modules, "smppy", None)
    assert hooks.FrameworkHooks.register().names == []


def test_smppy_started_and_stopped(sm_config: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[str] = []
    profiler = SimpleNamespace(
        configure=lambda config: calls.append(f"configure {config.profiler}"),
        start_profiling=lambda: calls.append("start"),
        stop_profiling=lambda: calls.append("stop"),
    )
    smppy = ModuleType("smppy")
    smppy.SMProfiler = SimpleNamespace(instance=lambda: profiler)  # type: ignore[attr-defined]
    smppy.Config = lambda: SimpleNamespace(profiler=None)  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "smppy", smppy)
    (sm_config / hooks.PROFILER_CONFIG).write_text("{}")
    registered = hooks.FrameworkHooks.register()
    assert registered.names == ["smppy"]
    registered.close()
    registered.close()
    assert calls == ["configure {'EnableCuda': '1'}", "start", "stop"]


def test_a_failing_library_is_ignored(
    sm_config: Path, fake_smdebug: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    (sm_config / hooks.DEBUG_HOOK_CONFIG).write_text("{}")

    def broken() -> None:
        raise RuntimeError("bad config")

    monkeypatch.setattr(FakeHook, "create_from_json_file", staticmethod(broken))
    assert hooks.FrameworkHooks.register().names == []
