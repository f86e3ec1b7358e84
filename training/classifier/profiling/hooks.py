"""Optional SageMaker framework hooks: smdebug and SageMaker Profiler (smppy), never required.

Older SageMaker PyTorch DLCs ship ``smdebug``; newer ones ship the SageMaker Profiler Python
module ``smppy``. SageMaker tells the job it wants them by writing configuration files:

- smdebug: ``/opt/ml/input/config/debughookconfig.json`` (DebugHookConfig of CreateTrainingJob);
  ``SMDEBUG_CONFIG_FILE_PATH`` overrides the path, as smdebug itself honours.
- SageMaker Profiler: ``/opt/ml/input/config/profilerconfig.json`` (ProfilerConfig).

A hook is registered only when its library is importable *and* its configuration file exists.
Import errors, missing configuration and any exception a library raises are logged and
ignored: the in-job profiler (this package) works the same with or without them.
Relies on: the standard library; smdebug / smppy only when present.
"""

from __future__ import annotations

import importlib
import logging
import os
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)

SM_CONFIG_DIR = Path("/opt/ml/input/config")
DEBUG_HOOK_CONFIG = "debughookconfig.json"
PROFILER_CONFIG = "profilerconfig.json"


def _smdebug_config_path() -> Path:
    return Path(os.environ.get("SMDEBUG_CONFIG_FILE_PATH", str(SM_CONFIG_DIR / DEBUG_HOOK_CONFIG)))


def _profiler_config_path() -> Path:
    return SM_CONFIG_DIR / PROFILER_CONFIG


def _import(name: str) -> Any | None:
    try:
        return importlib.import_module(name)
    except Exception:  # ImportError, or a library that fails on import in this environment
        return None


class FrameworkHooks:
    """The hooks registered for this job (possibly none); ``names`` says which."""

    def __init__(self, smdebug_hook: Any = None, smppy_profiler: Any = None) -> None:
        self.smdebug_hook = smdebug_hook
        self.smppy_profiler = smppy_profiler
        self._closed = False

    @property
    def names(self) -> list[str]:
        names = []
        if self.smdebug_hook is not None:
            names.append("smdebug")
        if self.smppy_profiler is not None:
            names.append("smppy")
        return names

    @classmethod
    def register(cls) -> FrameworkHooks:
        """Register every hook whose library is importable and configured for this job."""
        return cls(smdebug_hook=_register_smdebug(), smppy_profiler=_register_smppy())

    def watch_model(self, model: Any, loss_module: Any = None) -> None:
        """Give the smdebug hook the model (and loss module) so it can save tensors."""
        if self.smdebug_hook is None:
            return
        try:
            self.smdebug_hook.register_module(model)
            if loss_module is not None:
                self.smdebug_hook.register_loss(loss_module)
        except Exception as exc:
            log.warning("smdebug hook could not watch the model: %s", exc)

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        if self.smppy_profiler is not None:
            try:
                self.smppy_profiler.stop_profiling()
            except Exception as exc:
                log.warning("SageMaker Profiler stop failed: %s", exc)


def _register_smdebug() -> Any | None:
    config = _smdebug_config_path()
    if not config.is_file():
        return None
    module = _import("smdebug.pytorch")
    if module is None:
        return None
    try:
        hook = module.Hook.create_from_json_file()
    except Exception as exc:
        log.warning("smdebug is configured but its hook could not be created: %s", exc)
        return None
    log.info("smdebug hook registered from %s", config)
    return hook


def _register_smppy() -> Any | None:
    if not _profiler_config_path().is_file():
        return None
    module = _import("smppy")
    if module is None:
        return None
    try:
        profiler = module.SMProfiler.instance()
        config = module.Config()
        config.profiler = {"EnableCuda": "1"}
        profiler.configure(config)
        profiler.start_profiling()
    except Exception as exc:
        log.warning("SageMaker Profiler is configured but could not start: %s", exc)
        return None
    log.info("SageMaker Profiler (smppy) started")
    return profiler
