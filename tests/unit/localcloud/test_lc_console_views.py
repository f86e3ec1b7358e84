"""The console's pure layer: the ASL graph layout and state outcomes, the SVG charts' points, trial
rows and per-epoch series (localcloud/console/graph.py, charts.py, views.py), on plain dicts;
and CloudWatch's recorded series (what SageMaker Runtime publishes per invocation)."""

from __future__ import annotations

import datetime as dt
import json
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

from localcloud.cloudwatch.models import MetricSource
from localcloud.cloudwatch.responses import CloudWatchApi
from localcloud.console import charts, graph, views
from localcloud.store import Store

REPO = Path(__file__).resolve().parents[3]
SVG = "{http://www.w3.org/2000/svg}"


def parse(markup: str) -> ET.Element:
    return ET.fromstring(str(markup).replace("<svg ", '<svg xmlns="http://www.w3.org/2000/svg" ', 1))


def entered(name: str, kind: str = "Task") -> dict[str, Any]:
    return {"type": f"{kind}StateEntered", "stateEnteredEventDetails": {"name": name, "input": "{}"}}


def exited(name: str, kind: str = "Task") -> dict[str, Any]:
    return {"type": f"{kind}StateExited", "stateExitedEventDetails": {"name": name, "output": '{"a": 1}'}}


def test_the_pipelines_graph_has_every_state_and_transition_with_loops_not_pushing_layers() -> None:
    definition = json.loads((REPO / "statemachine" / "pipeline.asl.json").read_text())
    layout = graph.layout(definition)
    assert set(layout.nodes) == set(definition["States"])
    expected = {
        (name, target, kind)
        for name, state in definition["States"].items()
        for target, kind in graph.transitions(state)
    }
    assert {(e.source, e.target, e.kind) for e in layout.edges} == expected
    layer = {name: node.layer for name, node in layout.nodes.items()}
    assert layer["StartTuning"] == 0
    # the polling loop WaitForTuning -> CheckTuning -> TuningCompleted? -> WaitForTuning stays in order
    assert layer["WaitForTuning"] < layer["CheckTuning"] < layer["TuningCompleted?"] < layer["PickBest"]
    assert layer["Cleanup"] > layer["DeployEndpoint"]  # every Catch leads down to Cleanup
    # boxes do not overlap
    boxes = list(layout.nodes.values())
    for i, a in enumerate(boxes):
        for b in boxes[i + 1 :]:
            apart = a.x + a.w <= b.x or b.x + b.w <= a.x or a.y + a.h <= b.y or b.y + b.h <= a.y
            assert apart, (a.name, b.name)


def test_choice_default_and_catch_edges_are_kinds_and_parallel_is_a_compact_box_listing_its_states() -> None:
    definition = {
        "StartAt": "Fan",
        "States": {
            "Fan": {
                "Type": "Parallel",
                "Branches": [
                    {"StartAt": "L", "States": {"L": {"Type": "Pass", "End": True}}},
                    {"StartAt": "R", "States": {"R": {"Type": "Pass", "End": True}}},
                ],
                "Catch": [{"ErrorEquals": ["States.ALL"], "Next": "Oops"}],
                "Next": "Pick",
            },
            "Pick": {
                "Type": "Choice",
                "Choices": [{"Variable": "$.x", "IsPresent": True, "Next": "Done"}],
                "Default": "Oops",
            },
            "Oops": {"Type": "Fail"},
            "Done": {"Type": "Succeed"},
        },
    }
    layout = graph.layout(definition)
    kinds = {(e.source, e.target): e.kind for e in layout.edges}
    assert kinds == {
        ("Fan", "Pick"): "next",
        ("Fan", "Oops"): "catch",
        ("Pick", "Done"): "choice",
        ("Pick", "Oops"): "default",
    }
    assert layout.nodes["Fan"].inner == ["L", "R"]
    svg = parse(graph.svg(layout))
    fan = svg.find(f".//{SVG}g[@data-state='Fan']")
    assert fan is not None and {t.text for t in fan.findall(f"{SVG}text")} >= {"L", "R"}
    assert len(svg.findall(f".//{SVG}path[@class]")) >= 4


def test_outcomes_succeeded_caught_failed_and_the_current_state() -> None:
    events = [
        {"type": "ExecutionStarted"},
        entered("A"),
        exited("A"),
        entered("B"),
        {"type": "TaskFailed", "taskFailedEventDetails": {"error": "Boom", "cause": "bad"}},
        entered("Cleanup"),
        exited("Cleanup"),
        entered("Wait", "Wait"),
    ]
    running = graph.outcomes(events, "RUNNING")
    assert running.status == {"A": "succeeded", "B": "caught", "Cleanup": "succeeded", "Wait": "running"}
    assert running.current == "Wait"
    ended = graph.outcomes([*events, entered("Failed", "Fail"), {"type": "ExecutionFailed"}], "FAILED")
    assert ended.current is None
    assert ended.status["Failed"] == "failed" and ended.status["Wait"] == "failed"
    looped = graph.outcomes([entered("W", "Wait"), exited("W", "Wait"), entered("W", "Wait")], "RUNNING")
    assert looped.visits["W"] == 2 and looped.current == "W"
    definition = {
        "StartAt": "A",
        "States": {"A": {"Type": "Pass", "Next": "B"}, "B": {"Type": "Pass", "End": True}},
    }
    drawn = parse(graph.svg(graph.layout(definition), graph.outcomes([entered("A", "Pass")], "RUNNING")))
    current = drawn.findall(f".//{SVG}g[@data-current='true']")
    assert [g.get("data-state") for g in current] == ["A"]
    assert drawn.find(f".//{SVG}g[@data-state='B']").get("data-outcome") == "unvisited"  # type: ignore[union-attr]


def test_state_rows_pair_input_with_output_and_name_the_error() -> None:
    events = [
        entered("A"),
        exited("A"),
        entered("B"),
        {"type": "TaskFailed", "taskFailedEventDetails": {"error": "E", "cause": "C"}},
    ]
    rows = views.state_rows(events)
    assert [(r["name"], r["output"] != "", r["error"]) for r in rows] == [
        ("A", True, ""),
        ("B", False, "E: C"),
    ]
    assert json.loads(rows[0]["output"]) == {"a": 1}


def test_a_line_chart_has_one_point_per_value_and_the_polyline_through_them() -> None:
    metrics = {
        "train:loss": [(100.0, 1.5), (101.0, 1.2), (103.0, 0.9)],
        "valid:loss": [(100.5, 1.6), (102.0, 1.3), (103.5, 1.0)],
        "test:loss": [(110.0, 1.1)],
        "valid:accuracy": [(100.5, 0.2), (102.0, 0.4), (103.5, float("nan"))],
    }
    loss = views.epoch_series(metrics, "loss")
    assert list(loss) == ["train:loss", "valid:loss"]  # test:* is one value after training, not a curve
    svg = parse(charts.line_chart(loss, "epoch", "loss"))
    points = svg.findall(f".//{SVG}circle")
    assert sorted((p.get("data-series"), float(p.get("data-x", "0"))) for p in points) == [
        ("train:loss", 1.0), ("train:loss", 2.0), ("train:loss", 3.0),
        ("valid:loss", 1.0), ("valid:loss", 2.0), ("valid:loss", 3.0),
    ]  # fmt: skip
    assert len(svg.findall(f".//{SVG}polyline")) == 2
    # a higher value is drawn higher (smaller y): the falling loss goes down the chart
    train = sorted(
        (float(p.get("data-x", "0")), float(p.get("cy", "0")))
        for p in points
        if p.get("data-series") == "train:loss"
    )
    assert train[0][1] < train[1][1] < train[2][1]
    accuracy = parse(charts.line_chart(views.epoch_series(metrics, "accuracy"), "epoch", "accuracy"))
    assert len(accuracy.findall(f".//{SVG}circle")) == 2  # the NaN is left out
    empty = parse(charts.line_chart({}, "epoch", "loss"))
    assert empty.findall(f".//{SVG}circle") == [] and "no data yet" in ET.tostring(empty, encoding="unicode")


def test_trials_scatter_one_point_per_finished_trial_best_highlighted_categorical_and_log_axes() -> None:
    def trial(
        name: str, minute: int, status: str, lr: str, batch: str, value: float | None
    ) -> dict[str, Any]:
        out: dict[str, Any] = {
            "TrainingJobName": name,
            "CreationTime": dt.datetime(2026, 1, 1, 0, minute, tzinfo=dt.UTC),
            "TrainingJobStatus": status,
            "TunedHyperParameters": {"lr": lr, "batch-size": f'"{batch}"'},
        }
        if value is not None:
            out["FinalHyperParameterTuningJobObjectiveMetric"] = {
                "MetricName": "valid:accuracy",
                "Value": value,
            }
        return out

    trials = [
        trial("t-003", 3, "InProgress", "0.002", "32", None),
        trial("t-001", 1, "Completed", "0.001", "16", 0.5),
        trial("t-002", 2, "Stopped", "0.0025", "32", 0.7),
    ]
    rows = views.trial_rows(trials, best="t-002")
    assert [(r["number"], r["name"], r["stopped_early"], r["best"]) for r in rows] == [
        (1, "t-001", False, False), (2, "t-002", True, True), (3, "t-003", False, False),
    ]  # fmt: skip
    by_trial = parse(charts.scatter(views.objective_points(rows), "trial", "valid:accuracy", whole=True))
    circles = by_trial.findall(f".//{SVG}circle")
    assert sorted(float(c.get("data-x", "0")) for c in circles) == [1.0, 2.0]
    best = [c for c in circles if "best" in (c.get("class") or "")]
    assert [float(c.get("data-y", "0")) for c in best] == [0.7]
    job = {
        "HyperParameterTuningJobConfig": {
            "ParameterRanges": {
                "ContinuousParameterRanges": [
                    {"Name": "lr", "MinValue": "0.0005", "MaxValue": "0.003", "ScalingType": "Logarithmic"}
                ],
                "CategoricalParameterRanges": [{"Name": "batch-size", "Values": ["16", "32"]}],
            }
        }
    }
    lr, batch = views.ranges(job)
    assert lr["log"] and not batch["log"]
    assert [(p.x, p.y) for p in views.hyperparameter_points(rows, batch)] == [(0.0, 0.5), (1.0, 0.7)]
    batch_svg = parse(
        charts.scatter(views.hyperparameter_points(rows, batch), "batch-size", "acc", names=batch["values"])
    )
    assert [t.text for t in batch_svg.findall(f".//{SVG}text[@text-anchor='middle']")][:2] == ["16", "32"]
    assert [t.text for t in by_trial.findall(f".//{SVG}text[@text-anchor='middle']")][:2] == ["1", "2"]
    lr_svg = parse(charts.scatter(views.hyperparameter_points(rows, lr), "lr", "valid:accuracy", x_log=True))
    xs = sorted(float(c.get("cx", "0")) for c in lr_svg.findall(f".//{SVG}circle"))
    assert len(xs) == 2 and xs[0] < xs[1]


def test_nice_ticks_are_round_and_cover_the_range() -> None:
    assert charts.nice_ticks(0.0, 1.0) == [0.0, 0.2, 0.4, 0.6, 0.8, 1.0]
    assert charts.nice_ticks(0.13, 0.87, 4) == [0.2, 0.4, 0.6, 0.8]
    assert charts.nice_ticks(3.0, 47.0) == [10.0, 20.0, 30.0, 40.0]


def test_recorded_invocation_series_are_served_by_get_metric_statistics(tmp_path: Path) -> None:
    source = MetricSource(Store(tmp_path / "state.db"))
    dims = {"EndpointName": "ep", "VariantName": "AllTraffic"}
    now = dt.datetime.now(dt.UTC).timestamp()
    for micros in (1000.0, 2000.0, 3000.0, 40000.0):
        source.record("AWS/SageMaker", "ModelLatency", dims, micros, now)
        source.record("AWS/SageMaker", "Invocations", dims, 1, now)
    api = CloudWatchApi(source)
    window: dict[str, Any] = {
        "Namespace": "AWS/SageMaker",
        "Dimensions": [{"Name": k, "Value": v} for k, v in dims.items()],
        "StartTime": now - 120,
        "EndTime": now + 120,
        "Period": 300,
    }
    count = api.get_metric_statistics({**window, "MetricName": "Invocations", "Statistics": ["Sum"]})
    assert [p["Sum"] for p in count["Datapoints"]] == [4.0]
    latency = api.get_metric_statistics(
        {**window, "MetricName": "ModelLatency", "ExtendedStatistics": ["p50", "p99"]}
    )
    assert latency["Datapoints"][0]["ExtendedStatistics"] == {"p50": 2000.0, "p99": 40000.0}
    names = {m["MetricName"] for m in api.list_metrics({"Namespace": "AWS/SageMaker"})["Metrics"]}
    assert names == {"ModelLatency", "Invocations"}


def test_a_tuning_job_with_no_finished_trial_draws_empty_charts() -> None:
    """While the first trials run there is no objective yet, so no point: the log-scaled lr chart
    (the demo's tuning page at that moment) is an empty frame, not a server error."""
    for log in (True, False):
        svg = parse(charts.scatter([], "lr", "valid:accuracy", x_log=log))
        assert svg.findall(f".//{SVG}circle") == []
        assert svg.findall(f".//{SVG}text"), "the frame keeps its axis labels"


FONT_PX, GLYPH_EM = 11, 0.65  # the charts' 11 px text; DejaVu Sans digits are 0.636 em wide
Y_AXIS_LABEL_RIGHT = 18  # the rotated y axis label: a 12 px line centred on x=12


def _text_box(text: ET.Element) -> tuple[float, float, float, float]:
    """(left, top, right, bottom) of a chart's unrotated text, estimated from its length and anchor
    (the browser test measures the real boxes)."""
    x, y, width = (
        float(text.get("x", "0")),
        float(text.get("y", "0")),
        len(text.text or "") * FONT_PX * GLYPH_EM,
    )
    left = {"start": x, "middle": x - width / 2, "end": x - width}[text.get("text-anchor", "start")]
    return left, y - FONT_PX, left + width, y + 3


def _points_box(svg: ET.Element) -> tuple[float, float, float, float]:
    circles = [
        (float(c.get("cx", "0")), float(c.get("cy", "0")), float(c.get("r", "0")))
        for c in svg.findall(f".//{SVG}circle")
    ]
    return (
        min(cx - r for cx, _, r in circles),
        min(cy - r for _, cy, r in circles),
        max(cx + r for cx, _, r in circles),
        max(cy + r for _, cy, r in circles),
    )


def _overlap(a: tuple[float, float, float, float], b: tuple[float, float, float, float]) -> bool:
    return a[0] < b[2] and b[0] < a[2] and a[1] < b[3] and b[1] < a[3]


def test_a_line_charts_legend_stays_clear_of_the_points() -> None:
    """The accuracy curves end at the top right, where the legend used to be drawn over them."""
    rising = {
        "train:accuracy": [charts.Point(1, 0.3), charts.Point(2, 0.6), charts.Point(3, 0.92)],
        "valid:accuracy": [charts.Point(1, 0.25), charts.Point(2, 0.55), charts.Point(3, 0.9)],
    }
    falling = {
        "train:loss": [charts.Point(1, 1.5), charts.Point(2, 1.2)],
        "valid:loss": [charts.Point(1, 1.4)],
    }
    for series in (rising, falling):
        svg = parse(charts.line_chart(series, "epoch", "y"))
        legend = [t for t in svg.iter(f"{SVG}text") if "legend" in (t.get("class") or "").split()]
        assert sorted(t.text or "" for t in legend) == sorted(series)
        points = _points_box(svg)
        for text in legend:
            assert not _overlap(_text_box(text), points), (text.text, _text_box(text), points)


def test_tick_labels_stay_inside_the_view_box_and_clear_of_the_axis_label() -> None:
    """An lr range with no decade inside used its two ends as ticks, the right one cut off at the
    viewBox's edge; a tiny loss's y tick labels (1.00e-04) ran past the left edge."""
    lr = parse(
        charts.scatter(
            [charts.Point(0.0013, 0.5), charts.Point(0.0028, 0.7, highlight=True)], "lr", "acc", x_log=True
        )
    )
    loss = parse(
        charts.line_chart({"train:loss": [charts.Point(1, 9e-4), charts.Point(2, 2e-4)]}, "epoch", "loss")
    )
    for svg in (lr, loss):
        ticks = [t for t in svg.iter(f"{SVG}text") if t.get("class") == "tick"]
        assert ticks
        for tick in ticks:
            left, top, right, bottom = _text_box(tick)
            assert left >= 0 and top >= 0 and right <= charts.WIDTH and bottom <= charts.HEIGHT, tick.text
            if tick.get("text-anchor") == "end":  # a y tick: right of the rotated y axis label
                assert left >= Y_AXIS_LABEL_RIGHT, tick.text
    x_ticks = [
        t.text for t in lr.iter(f"{SVG}text") if t.get("text-anchor") == "middle" and t.get("class") == "tick"
    ]
    assert x_ticks == ["0.002", "0.003"]  # round values, not the axis's ends


def test_log_ticks_are_round_values_inside_the_range() -> None:
    assert charts.log_ticks(9e-5, 0.12) == [1e-4, 1e-3, 1e-2, 0.1]
    assert charts.log_ticks(0.000417, 0.0036) == [0.0005, 0.001, 0.002]
    assert charts.log_ticks(0.00108, 0.00336) == [0.002, 0.003]
    assert charts.log_ticks(0.00101, 0.00109) == charts.nice_ticks(0.00101, 0.00109, 2)
