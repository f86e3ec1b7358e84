"""The profiler the training loop talks to: no-op when off, records and reports when on, never raises."""

from __future__ import annotations

import json
import threading
import time
from pathlib import Path

import pytest
import torch

from classifier.profiling import NoOpProfiler, Profiler, create_profiler
from classifier.profiling.recorder import StepRecorder
from classifier.profiling.session import ProfilingSession


class FakeClock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


def _run_steps(profiler: Profiler, steps: int, *, data: float = 0.0, compute: float = 0.0) -> None:
    for _ in range(steps):
        profiler.step_start()
        time.sleep(data)
        profiler.data_ready()
        time.sleep(compute)
        profiler.forward_done()
        profiler.backward_done()
        profiler.step_end(8)


def _cpu_session(
    output_dir: Path, *, num_workers: int = 0, rank: int = 0, world_size: int = 1
) -> ProfilingSession:
    """A CPU session for 8-image batches, sampling the system every 50 ms."""
    return ProfilingSession(
        output_dir=output_dir,
        device=torch.device("cpu"),
        batch_size=8,
        num_workers=num_workers,
        rank=rank,
        world_size=world_size,
        process_start=time.time(),
        sample_interval=0.05,
    )


def test_disabled_profiler_is_a_no_op(tmp_path: Path) -> None:
    profiler = create_profiler(
        False, output_dir=tmp_path, device=torch.device("cpu"), batch_size=8, num_workers=0, process_start=0.0
    )
    assert isinstance(profiler, NoOpProfiler)
    assert isinstance(profiler, Profiler)
    _run_steps(profiler, 3)
    profiler.watch_model(torch.nn.Linear(2, 2))
    profiler.epoch_end(1, {"train_loss": 1.0})
    assert profiler.finish() == 0
    profiler.close()
    assert list(tmp_path.iterdir()) == []


def test_recorder_splits_each_step_into_phases() -> None:
    clock = FakeClock()
    recorder = StepRecorder(torch.device("cpu"), clock=clock, wall_clock=lambda: 1000.0)
    for _epoch in range(2):
        for _ in range(3):
            recorder.step_start()
            clock.advance(0.4)
            recorder.data_ready()
            clock.advance(0.1)
            recorder.forward_done()
            clock.advance(0.2)
            recorder.backward_done()
            clock.advance(0.05)
            recorder.step_end(16)
        recorder.epoch_end()
    series = recorder.series()
    assert len(series) == 6
    assert series.data.tolist() == pytest.approx([0.4] * 6)
    assert series.forward.tolist() == pytest.approx([0.1] * 6)
    assert series.backward.tolist() == pytest.approx([0.2] * 6)
    assert series.optimizer.tolist() == pytest.approx([0.05] * 6)
    assert series.total.tolist() == pytest.approx([0.75] * 6)
    assert series.epoch.tolist() == [0, 0, 0, 1, 1, 1]
    assert series.batch_size.tolist() == [16] * 6
    # wall-clock start times: 1000 (wall offset) + 0 at the first mark, then 0.75 s apart
    assert series.start[1] - series.start[0] == pytest.approx(0.75)
    assert series.start[0] == pytest.approx(1000.0)
    assert recorder.gpu_timing == "cpu-wall"


def test_recorder_tolerates_missing_marks() -> None:
    clock = FakeClock()
    recorder = StepRecorder(None, clock=clock)
    recorder.step_start()
    clock.advance(0.3)
    recorder.step_end(4)  # no data_ready/forward/backward marks
    series = recorder.series()
    assert series.total.tolist() == pytest.approx([0.3])
    assert series.data.tolist() == [0.0]
    assert series.optimizer.tolist() == pytest.approx([0.3])


def test_enabled_profiler_records_and_writes_report(tmp_path: Path) -> None:
    session = _cpu_session(tmp_path)
    try:
        for epoch in (1, 2):
            _run_steps(session, 10, data=0.02, compute=0.005)
            session.epoch_end(
                epoch,
                {
                    "train_loss": 1.0 / epoch,
                    "valid_loss": 2.0,
                    "train_accuracy": 0.5,
                    "valid_accuracy": 0.4,
                    "epoch_seconds": 0.3,
                    "images_per_second": 100.0,
                },
            )
        triggered = session.finish()
    finally:
        session.close()
    rules = json.loads((tmp_path / "profiler-report" / "rules.json").read_text())
    assert len(rules) == 11
    assert triggered == sum(r["RuleEvaluationStatus"] == "IssuesFound" for r in rules)
    by_name = {r["RuleConfigurationName"]: r for r in rules}
    # 0 workers and ~80% of step time waiting for data: the Dataloader rule must see it
    assert by_name["Dataloader"]["RuleEvaluationStatus"] == "IssuesFound"
    assert by_name["Dataloader"]["Details"]["Observed"]["data_wait_percent_of_step_time"] > 50
    assert by_name["Overfit"]["RuleEvaluationStatus"] == "IssuesFound"  # valid 2.0 vs train 0.5
    assert by_name["StepOutlier"]["Details"]["Observed"]["steps"] == 20
    assert (tmp_path / "profiler-report" / "report.html").stat().st_size > 10_000
    assert session.finish() == triggered  # idempotent
    assert not any(t.name == "profiler-system-sampler" for t in threading.enumerate())


def test_close_stops_the_sampler_thread_without_finish(tmp_path: Path) -> None:
    session = _cpu_session(tmp_path)
    time.sleep(0.2)
    session.close()
    session.close()
    assert not any(t.name == "profiler-system-sampler" for t in threading.enumerate())
    assert not (tmp_path / "profiler-report").exists()


def test_finish_never_raises_when_report_cannot_be_written(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    blocker = tmp_path / "not-a-dir"
    blocker.write_text("a file where the output directory should be")
    session = _cpu_session(blocker, num_workers=16)
    try:
        _run_steps(session, 5)
        triggered = session.finish()
    finally:
        session.close()
    assert triggered >= 1  # 16 workers on this machine's cores is too many -> Dataloader still counted
    assert "profiler: finish failed" in capsys.readouterr().err


def test_hot_path_errors_are_swallowed_once(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    session = _cpu_session(tmp_path)

    def broken(batch_size: int) -> None:
        raise RuntimeError("recorder broke")

    session._recorder.step_end = broken  # type: ignore[method-assign]
    try:
        _run_steps(session, 3)
    finally:
        session.close()
    assert capsys.readouterr().err.count("step_end failed") == 1


def test_only_rank_zero_writes_the_report(tmp_path: Path) -> None:
    session = _cpu_session(tmp_path, rank=1, world_size=2)
    try:
        _run_steps(session, 3)
        session.finish()
    finally:
        session.close()
    assert not (tmp_path / "profiler-report").exists()


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_cuda_phases_are_timed_with_events() -> None:
    device = torch.device("cuda")
    recorder = StepRecorder(device)
    a = torch.randn(2048, 2048, device=device)
    for _ in range(5):
        recorder.step_start()
        recorder.data_ready()
        b = a @ a
        recorder.forward_done()
        c = b @ b @ b
        recorder.backward_done()
        recorder.step_end(1)
    recorder.finalize()
    series = recorder.series()
    assert recorder.gpu_timing == "cuda-events"
    # backward does two matmuls to forward's one: GPU time must reflect that, CPU launch time would not
    assert series.backward[1:].mean() > 1.5 * series.forward[1:].mean()
    del c
