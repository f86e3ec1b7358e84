"""The system sampler: rows of per-core CPU, IO wait, memory (and GPU columns via NVML when present)."""

from __future__ import annotations

import threading
import time
from types import SimpleNamespace
from typing import Any

import psutil
import pytest

from classifier.profiling import sampler as sampler_module
from classifier.profiling.sampler import NvmlGpus, SystemSampler


def test_sample_once_records_one_row_per_call() -> None:
    sampler = SystemSampler(sample_gpus=False)
    sampler.start()
    try:
        sampler.sample_once()
        sampler.sample_once()
    finally:
        sampler.stop()
    series = sampler.series()
    assert len(series) >= 2
    assert series.cpu_per_core.shape == (len(series), psutil.cpu_count(logical=True))
    assert ((series.cpu_per_core >= 0) & (series.cpu_per_core <= 100)).all()
    assert 0 < series.memory_percent[0] <= 100
    assert series.gpu_count == 0
    assert (series.time[1:] >= series.time[:-1]).all()


def test_thread_samples_on_its_interval_and_stops() -> None:
    sampler = SystemSampler(interval=0.05, sample_gpus=False)
    sampler.start()
    time.sleep(0.5)
    sampler.stop()
    count = len(sampler.series())
    assert 4 <= count <= 12
    time.sleep(0.15)
    assert len(sampler.series()) == count
    assert not any(t.name == "profiler-system-sampler" for t in threading.enumerate())


class FakeNvml:
    """Just enough of pynvml for two GPUs."""

    def __init__(self) -> None:
        self.shutdowns = 0

    def nvmlInit(self) -> None:
        pass

    def nvmlShutdown(self) -> None:
        self.shutdowns += 1

    def nvmlDeviceGetCount(self) -> int:
        return 2

    def nvmlDeviceGetHandleByIndex(self, i: int) -> int:
        return i

    def nvmlDeviceGetName(self, handle: int) -> bytes:
        return b"Fake H100"

    def nvmlDeviceGetUUID(self, handle: int) -> str:
        return f"GPU-{handle}aaa"

    def nvmlDeviceGetUtilizationRates(self, handle: int) -> Any:
        return SimpleNamespace(gpu=[90, 20][handle])

    def nvmlDeviceGetMemoryInfo(self, handle: int) -> Any:
        return SimpleNamespace(used=[40, 10][handle], total=80)


@pytest.fixture
def fake_nvml(monkeypatch: pytest.MonkeyPatch) -> FakeNvml:
    fake = FakeNvml()
    monkeypatch.setitem(__import__("sys").modules, "pynvml", fake)
    monkeypatch.delenv("CUDA_VISIBLE_DEVICES", raising=False)
    return fake


def test_gpu_columns_come_from_nvml(fake_nvml: FakeNvml) -> None:
    sampler = SystemSampler(sample_gpus=True)
    sampler.start()
    sampler.sample_once()
    sampler.stop()
    series = sampler.series()
    assert series.gpu_count == 2
    assert series.gpu_util[-1].tolist() == [90.0, 20.0]
    assert series.gpu_memory_percent[-1].tolist() == [50.0, 12.5]
    assert series.gpu_names == ["gpu0 Fake H100", "gpu1 Fake H100"]
    assert fake_nvml.shutdowns == 1


def test_cuda_visible_devices_limits_the_gpus(fake_nvml: FakeNvml, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "1")
    gpus = NvmlGpus.open()
    assert gpus is not None
    assert gpus.handles == [1]
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "GPU-0")
    gpus = NvmlGpus.open()
    assert gpus is not None and gpus.handles == [0]


def test_no_nvml_means_no_gpu_columns(monkeypatch: pytest.MonkeyPatch) -> None:
    class Broken(FakeNvml):
        def nvmlInit(self) -> None:
            raise RuntimeError("NVML Shared Library Not Found")

    monkeypatch.setitem(__import__("sys").modules, "pynvml", Broken())
    assert NvmlGpus.open() is None
    assert sampler_module.SystemSampler(sample_gpus=True).gpu_names == []
