"""Log files read as CloudWatch Logs events: lines, stable timestamps, partial lines, truncation."""

from __future__ import annotations

import os
import time
from pathlib import Path

from localcloud.cwlogs import models
from localcloud.cwlogs.models import LogFiles
from localcloud.logs import TRAINING_JOBS, log_path


def _touch(path: Path, seconds: float) -> None:
    os.utime(path, (seconds, seconds))


def _events(files: LogFiles, group: str, name: str) -> list[tuple[int, str]]:
    [stream] = [s for s in files.streams(group) if s.name == name]
    return [(e.timestamp, e.message) for e in stream.events]


def test_streams_keep_group_and_slashed_names(tmp_path: Path) -> None:
    log_path(tmp_path, TRAINING_JOBS, "job/algo-1-1700000000").write_text("a\n")
    log_path(tmp_path, "/aws/lambda/fn", "2026-01-01-abc").write_text("b\n")
    names = {(s.group, s.name) for s in LogFiles(tmp_path).streams()}
    assert names == {(TRAINING_JOBS, "job/algo-1-1700000000"), ("/aws/lambda/fn", "2026-01-01-abc")}


def test_lines_get_the_time_they_were_first_seen_and_keep_it(tmp_path: Path) -> None:
    path = log_path(tmp_path, TRAINING_JOBS, "job/algo-1-1")
    path.write_text("one\n\ntwo\n")
    _touch(path, 1_000)
    files = LogFiles(tmp_path)
    assert _events(files, TRAINING_JOBS, "job/algo-1-1") == [(1_000_000, "one"), (1_000_000, "two")]
    with path.open("a") as out:
        out.write("three\n")
    _touch(path, 1_005)
    assert _events(files, TRAINING_JOBS, "job/algo-1-1")[-1] == (1_005_000, "three")
    # a new reader (a restarted server) gives the same times from the index beside the file
    _touch(path, 2_000)
    assert _events(LogFiles(tmp_path), TRAINING_JOBS, "job/algo-1-1") == [
        (1_000_000, "one"),
        (1_000_000, "two"),
        (1_005_000, "three"),
    ]


def test_a_line_without_newline_waits_until_completed_or_quiet(tmp_path: Path, monkeypatch) -> None:
    path = log_path(tmp_path, TRAINING_JOBS, "job/algo-1-2")
    path.write_text("done\nhalf")
    files = LogFiles(tmp_path)
    assert [m for _, m in _events(files, TRAINING_JOBS, "job/algo-1-2")] == ["done"]
    with path.open("a") as out:
        out.write(" line\n")
    assert [m for _, m in _events(files, TRAINING_JOBS, "job/algo-1-2")] == ["done", "half line"]
    with path.open("a") as out:
        out.write("progress 50%")
    _touch(path, time.time() - models.PARTIAL_AFTER - 1)  # the writer has gone quiet
    assert [m for _, m in _events(files, TRAINING_JOBS, "job/algo-1-2")][-1] == "progress 50%"


def test_a_truncated_file_is_read_again_from_the_start(tmp_path: Path) -> None:
    path = log_path(tmp_path, TRAINING_JOBS, "job/algo-1-3")
    path.write_text("old line one\nold line two\n")
    files = LogFiles(tmp_path)
    assert len(_events(files, TRAINING_JOBS, "job/algo-1-3")) == 2
    path.write_text("new\n")
    _touch(path, 3_000)
    assert _events(files, TRAINING_JOBS, "job/algo-1-3") == [(3_000_000, "new")]
    assert _events(LogFiles(tmp_path), TRAINING_JOBS, "job/algo-1-3") == [(3_000_000, "new")]
