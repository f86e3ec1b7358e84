"""The console (``/_localcloud/``) in a real browser during a real pipeline execution.

Playwright for Python drives Debian's chromium (``executable_path``, no browser download) against
``localcloud up`` with the repository's template.yaml, on free ports, while one execution of the
real state machine runs on a tiny dataset (3 classes of 16 training images, resnet18 from scratch
at 32 px, 2 tuning trials of 2 epochs in parallel, the retrain, the deployment). In order:

0. the tuning page, opened while the first trials run (no objective yet: it once answered 500 for
   log10(0) on its log-scaled lr axis), shows empty charts; it stays open, and by step 3 it has
   drawn the trials' points without a reload;
1. the execution page marks the current state in its graph and moves the mark as the execution
   goes on, without a reload;
2. the training page of the retrain, opened while it runs, ends with one point per epoch on its
   loss and accuracy curves (the job's own epoch lines in its log say how many), and links its
   profiler report;
3. the tuning page draws one point per finished trial and highlights the best one;
4. the endpoint page's upload box invokes the endpoint and its invocation count goes up;
5. S3 pages list the buckets and prefixes and download an object;
6. a page on another origin cannot read or drive the console (guard.py).

Every chart keeps its text inside its viewBox and its legend off the plotted points (measured
with the browser's own text boxes). No page logs a console error (a CSP violation among them).
Screenshots go to ``test-artifacts/console/`` (gitignored; ``$TEST_ARTIFACTS`` overrides).
"""

from __future__ import annotations

import json
import os
import re
import time
import urllib.parse
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from classifier.sample_data import generate
from support.chromium import CHROMIUM, MISSING, collect_errors, launch
from support.localcloud_proc import REPO, LocalCloudProcess

pytestmark = pytest.mark.slow

ARTIFACTS = Path(os.environ.get("TEST_ARTIFACTS", REPO / "test-artifacts")) / "console"
EPOCHS = 2
EXECUTION_INPUT: dict[str, Any] = {
    "tuning": {
        "strategy": "Random",
        "maxJobs": 2,
        "maxParallelJobs": 2,
        "earlyStopping": "Off",
        "objective": {"metric": "valid:accuracy", "type": "Maximize"},
        "ranges": {
            "lr": {"min": 0.0005, "max": 0.003, "scaling": "Logarithmic"},
            "batch-size": {"values": [8, 16]},
        },
        "static": {
            "arch": "resnet18",
            "pretrained": "none",
            "image-size": 32,
            "epochs": EPOCHS,
            "num-workers": 0,
        },
    },
    "training": {
        "instanceType": "ml.m5.xlarge",
        "instanceCount": 1,
        "spot": False,
        "maxRuntimeSeconds": 3600,
    },
    "endpoint": {"instanceType": "ml.m5.large", "instanceCount": 1},
    "pollSeconds": 1,
}

if not CHROMIUM.exists():
    pytest.skip(MISSING, allow_module_level=True)


@pytest.fixture(scope="module")
def dataset(module_tmp_path: Path) -> Path:
    return generate(
        module_tmp_path / "images",
        classes=3,
        train_per_class=16,
        valid_per_class=4,
        test_per_class=4,
        size=48,
        seed=5,
    )


@pytest.fixture(scope="module")
def lc(module_tmp_path: Path) -> Iterator[LocalCloudProcess]:
    with LocalCloudProcess(module_tmp_path / "state", template=REPO / "template.yaml") as proc:
        yield proc


@pytest.fixture(scope="module")
def execution(lc: LocalCloudProcess, dataset: Path) -> str:
    """The execution's ARN; it is started here and runs while the tests look at it."""
    with urllib.request.urlopen(f"{lc.edge_url}/_localcloud/stack") as resp:
        outputs = {o["OutputKey"]: o["OutputValue"] for o in json.load(resp)["Outputs"]}
    execution_input = {
        **EXECUTION_INPUT,
        "data": {split: (dataset / split).as_uri() + "/" for split in ("train", "valid", "test")},
    }
    answer = lc.client("stepfunctions").start_execution(
        stateMachineArn=outputs["StateMachineArn"], name="console-run", input=json.dumps(execution_input)
    )
    return str(answer["executionArn"])


def finished(lc: LocalCloudProcess, arn: str, timeout: float = 1500) -> dict[str, Any]:
    sfn = lc.client("stepfunctions")
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        described = sfn.describe_execution(executionArn=arn)
        if described["status"] != "RUNNING":
            assert described["status"] == "SUCCEEDED", f"{described}\n{lc.server_log()}"
            return dict(described)
        time.sleep(1)
    raise AssertionError(f"execution still running after {timeout}s:\n{lc.server_log()}")


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    with launch() as launched:
        yield launched


@pytest.fixture(scope="module")
def artifacts() -> Path:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    return ARTIFACTS


@pytest.fixture
def page_errors() -> list[str]:
    return []


def open_page(browser: Any, url: str, errors: list[str]) -> Any:
    page = browser.new_context(viewport={"width": 1280, "height": 1000}).new_page()
    collect_errors(page, errors)
    response = page.goto(url)
    assert response is not None and response.status == 200, url
    assert "default-src 'none'" in response.headers["content-security-policy"]
    page.evaluate("window.__notReloaded = true")  # gone if the page reloads
    return page


# Each chart's layout, measured by the browser: every unrotated text inside the viewBox, and no
# legend entry over the plotted points' bounding box. Returns what is wrong, one line each.
_CHART_LAYOUT_JS = """svgs => svgs.flatMap((svg, n) => {
    const vb = svg.viewBox.baseVal, wrong = [];
    for (const t of svg.querySelectorAll('text:not([transform])')) {
        const b = t.getBBox();
        if (b.x < 0 || b.y < 0 || b.x + b.width > vb.width || b.y + b.height > vb.height)
            wrong.push(`chart ${n}: '${t.textContent}' outside the viewBox`);
    }
    const pts = Array.from(svg.querySelectorAll('circle.pt'), c => c.getBBox());
    if (pts.length === 0) return wrong;
    const box = {x1: Math.min(...pts.map(b => b.x)), y1: Math.min(...pts.map(b => b.y)),
                 x2: Math.max(...pts.map(b => b.x + b.width)), y2: Math.max(...pts.map(b => b.y + b.height))};
    for (const item of svg.querySelectorAll('.legend-item, text.legend')) {
        const b = item.getBBox();
        if (b.x < box.x2 && box.x1 < b.x + b.width && b.y < box.y2 && box.y1 < b.y + b.height)
            wrong.push(`chart ${n}: legend '${item.textContent}' over the points`);
    }
    return wrong;
})"""


def _chart_layout_problems(page: Any) -> list[str]:
    problems: list[str] = page.eval_on_selector_all("svg.chart", _CHART_LAYOUT_JS)
    return problems


def current_state(page: Any) -> str | None:
    marked = page.eval_on_selector_all(
        "svg.graph g[data-current='true']", "gs => gs.map(g => g.dataset.state)"
    )
    assert len(marked) <= 1, marked
    return marked[0] if marked else None


@pytest.fixture(scope="module")
def early_tuning_page(browser: Any, lc: LocalCloudProcess, execution: str) -> tuple[Any, list[str]]:
    """The tuning page, opened as soon as the pipeline has started its tuning job, and what it logs
    as errors; it stays open (updating itself) for the tuning test to look at again at the end."""
    sagemaker = lc.client("sagemaker")
    deadline = time.monotonic() + 120
    while not (jobs := sagemaker.list_hyper_parameter_tuning_jobs()["HyperParameterTuningJobSummaries"]):
        assert time.monotonic() < deadline, f"no tuning job started:\n{lc.server_log()}"
        time.sleep(0.5)
    errors: list[str] = []
    page = open_page(
        browser, f"{lc.edge_url}/_localcloud/tuning/{jobs[0]['HyperParameterTuningJobName']}", errors
    )
    return page, errors


def test_the_tuning_page_opens_while_the_first_trials_run(
    early_tuning_page: tuple[Any, list[str]], artifacts: Path
) -> None:
    page, errors = early_tuning_page  # answered 200 (open_page): no 500 from log10(0) on the lr axis
    # drawn before any trial finished (a trial takes far longer than the few seconds since StartTuning)
    assert page.eval_on_selector_all("svg.chart circle.pt", "cs => cs.length") == 0
    assert page.locator(".hp-scatter[data-hyperparameter='lr'] svg.chart").count() == 1  # the log axis
    assert page.eval_on_selector_all("svg.chart text.empty", "ts => ts.length") == 3  # by trial, lr, batch
    assert _chart_layout_problems(page) == []
    page.screenshot(path=str(artifacts / "tuning-running.png"), full_page=True)
    assert errors == []


def test_the_execution_page_marks_the_current_state_and_moves_it_without_a_reload(
    browser: Any, lc: LocalCloudProcess, execution: str, artifacts: Path, page_errors: list[str]
) -> None:
    url = f"{lc.edge_url}/_localcloud/execution?arn={urllib.parse.quote(execution, safe='')}"
    page = open_page(browser, url, page_errors)
    page.wait_for_selector("svg.graph g[data-current='true']", timeout=60_000)
    first = current_state(page)
    page.screenshot(path=str(artifacts / "execution-running.png"), full_page=True)
    seen = {first}
    deadline = time.monotonic() + 600
    while time.monotonic() < deadline and len(seen) < 3:  # two moves of the mark
        page.wait_for_function(
            "prev => { const g = document.querySelector(\"svg.graph g[data-current='true']\");"
            " return (g ? g.dataset.state : null) !== prev; }",
            arg=current_state(page),
            timeout=600_000,
        )
        seen.add(current_state(page))
    assert len(seen) >= 3, seen
    assert page.evaluate("window.__notReloaded === true"), "the page reloaded"
    # the states it passed are coloured by outcome; the current one is the execution's latest entered state
    passed = page.eval_on_selector_all(
        "svg.graph g[data-outcome='succeeded']", "gs => gs.map(g => g.dataset.state)"
    )
    pages = lc.client("stepfunctions").get_paginator("get_execution_history").paginate(executionArn=execution)
    history = [event for page in pages for event in page["events"]]
    assert set(passed) <= {
        e["stateExitedEventDetails"]["name"] for e in history if "stateExitedEventDetails" in e
    }
    rows = page.eval_on_selector_all("#history tbody tr", "rows => rows.length")
    assert rows >= 3
    page.screenshot(path=str(artifacts / "execution-moved.png"), full_page=True)
    assert page_errors == []


def retrain_job(lc: LocalCloudProcess, execution: str, timeout: float = 1500) -> str:
    """The retrain's name, once the pipeline has started it (its StartTraining state's output)."""
    sfn = lc.client("stepfunctions")
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        pages = sfn.get_paginator("get_execution_history").paginate(executionArn=execution)
        events = [event for page in pages for event in page["events"]]
        for event in events:
            details = event.get("stateExitedEventDetails") or {}
            if details.get("name") == "StartTraining":
                return str(json.loads(details["output"])["retrain"]["name"])
        if sfn.describe_execution(executionArn=execution)["status"] != "RUNNING":
            break
        time.sleep(1)
    raise AssertionError(f"no retrain started:\n{lc.server_log()}")


def test_the_training_page_draws_one_point_per_finished_epoch(
    browser: Any, lc: LocalCloudProcess, execution: str, artifacts: Path, page_errors: list[str]
) -> None:
    name = retrain_job(lc, execution)
    page = open_page(browser, f"{lc.edge_url}/_localcloud/training/{name}", page_errors)
    page.wait_for_function(
        "() => document.getElementById('training-status').textContent.trim() === 'Completed'",
        timeout=900_000,
        polling=1000,
    )
    assert page.evaluate("window.__notReloaded === true"), "the page reloaded"
    log = page.text_content("#log") or ""
    epochs = len(re.findall(r"^epoch=\d+ ", log, re.MULTILINE))
    assert epochs == EPOCHS, log[-2000:]
    for chart, series in (
        ("#loss-chart", ("train:loss", "valid:loss")),
        ("#accuracy-chart", ("train:accuracy", "valid:accuracy")),
    ):
        for metric in series:
            xs = page.eval_on_selector_all(
                f"{chart} circle.pt[data-series='{metric}']", "cs => cs.map(c => Number(c.dataset.x))"
            )
            assert sorted(xs) == list(range(1, epochs + 1)), (metric, xs)
    assert page.eval_on_selector_all("#transitions tbody tr", "rows => rows.length") >= 3
    assert page.eval_on_selector_all("#rules tbody tr", "rows => rows.length") >= 1
    assert _chart_layout_problems(page) == []
    page.screenshot(path=str(artifacts / "training-completed.png"), full_page=True)
    report = httpx.get(lc.edge_url + page.get_attribute("#report-link", "href"), timeout=60)
    assert report.status_code == 200 and "<html" in report.text.lower()
    assert report.headers["content-security-policy"].startswith("sandbox")
    assert page_errors == []


def test_the_tuning_page_draws_one_point_per_finished_trial_and_highlights_the_best(
    browser: Any,
    lc: LocalCloudProcess,
    execution: str,
    early_tuning_page: tuple[Any, list[str]],
    artifacts: Path,
    page_errors: list[str],
) -> None:
    output = json.loads(finished(lc, execution)["output"])
    tuning = output["tuningJob"]
    trials = lc.client("sagemaker").list_training_jobs_for_hyper_parameter_tuning_job(
        HyperParameterTuningJobName=tuning
    )["TrainingJobSummaries"]
    done = [t for t in trials if "FinalHyperParameterTuningJobObjectiveMetric" in t]
    assert len(done) == 2
    page = open_page(browser, f"{lc.edge_url}/_localcloud/tuning/{tuning}", page_errors)
    points = page.eval_on_selector_all(
        "#objective-by-trial circle.pt", "cs => cs.map(c => Number(c.dataset.y))"
    )
    assert sorted(points) == sorted(t["FinalHyperParameterTuningJobObjectiveMetric"]["Value"] for t in done)
    best = page.eval_on_selector_all(
        "#objective-by-trial circle.best", "cs => cs.map(c => Number(c.dataset.y))"
    )
    described = lc.client("sagemaker").describe_hyper_parameter_tuning_job(HyperParameterTuningJobName=tuning)
    assert best == [described["BestTrainingJob"]["FinalHyperParameterTuningJobObjectiveMetric"]["Value"]]
    assert (
        page.get_attribute("#trials tr.best", "data-trial") == described["BestTrainingJob"]["TrainingJobName"]
    )
    for tuned in ("lr", "batch-size"):
        count = page.eval_on_selector_all(
            f".hp-scatter[data-hyperparameter='{tuned}'] circle.pt", "cs => cs.length"
        )
        assert count == len(done), tuned
    # sorting the trials table by objective (twice: descending) puts the best first
    header = page.locator("#trials th", has_text="valid:accuracy")
    header.click()
    header.click()
    assert (
        page.get_attribute("#trials tbody tr:first-child", "data-trial")
        == described["BestTrainingJob"]["TrainingJobName"]
    )
    assert _chart_layout_problems(page) == []
    page.screenshot(path=str(artifacts / "tuning.png"), full_page=True)
    assert page_errors == []
    # the page opened while the first trials ran has drawn the same points since, without a reload
    early, early_errors = early_tuning_page
    assert early.evaluate("window.__notReloaded === true"), "the early tuning page reloaded"
    early_points = early.eval_on_selector_all(
        "#objective-by-trial circle.pt", "cs => cs.map(c => Number(c.dataset.y))"
    )
    assert sorted(early_points) == sorted(points)
    assert early_errors == []


def test_the_endpoint_page_invokes_the_endpoint_and_counts_the_invocation(
    browser: Any,
    lc: LocalCloudProcess,
    execution: str,
    dataset: Path,
    artifacts: Path,
    page_errors: list[str],
) -> None:
    endpoint = json.loads(finished(lc, execution)["output"])["endpoint"]["name"]
    page = open_page(browser, f"{lc.edge_url}/_localcloud/endpoints/{endpoint}", page_errors)
    assert page.text_content("#endpoints td.invocations") == "0"
    image = sorted((dataset / "test").rglob("*.jpg"))[0]
    page.set_input_files("#invoke-file", str(image))
    page.click("#invoke button[type=submit]")
    page.wait_for_selector("#invoke-result:not([hidden])", timeout=60_000)
    assert "HTTP 200" in (page.text_content("#invoke-status") or "")
    assert "probabilit" in (page.text_content("#invoke-result") or "")
    page.wait_for_function(
        "() => document.querySelector('#endpoints td.invocations').textContent.trim() === '1'",
        timeout=30_000,
    )
    assert page.evaluate("window.__notReloaded === true")
    page.screenshot(path=str(artifacts / "endpoint.png"), full_page=True)
    listing = open_page(browser, f"{lc.edge_url}/_localcloud/endpoints", page_errors)
    assert listing.text_content("#endpoints td.invocations") == "1"
    assert page_errors == []


def test_s3_pages_list_prefixes_and_download_an_object(
    browser: Any, lc: LocalCloudProcess, execution: str, artifacts: Path, page_errors: list[str]
) -> None:
    s3 = lc.client("s3")
    s3.create_bucket(Bucket="console-files")
    for i in range(60):
        s3.put_object(Bucket="console-files", Key=f"many/{i:03d}.txt", Body=f"object {i}".encode())
    s3.put_object(Bucket="console-files", Key="top.json", Body=b'{"a": 1}')
    page = open_page(browser, f"{lc.edge_url}/_localcloud/s3", page_errors)
    page.click("text=console-files")
    page.wait_for_selector("#objects")
    assert page.eval_on_selector_all("#objects tr.prefix a", "as => as.map(a => a.textContent)") == ["many/"]
    href = page.get_attribute("#objects a.download", "href")
    assert href == "/console-files/top.json"
    downloaded = httpx.get(lc.edge_url + href, timeout=30)
    assert downloaded.content == b'{"a": 1}'
    page.click("text=many/")
    page.wait_for_selector("a.next")
    assert page.eval_on_selector_all("#objects tbody tr", "rows => rows.length") == 50  # one bounded page
    page.click("a.next")
    page.wait_for_function("() => document.querySelectorAll('#objects tbody tr').length === 10")
    page.screenshot(path=str(artifacts / "s3.png"), full_page=True)
    assert page_errors == []


def test_another_origin_cannot_read_or_drive_the_console(lc: LocalCloudProcess) -> None:
    url = f"{lc.edge_url}/_localcloud/executions"
    assert httpx.get(url).status_code == 200
    assert httpx.get(url, headers={"Origin": "http://evil.example"}).status_code == 403
    assert httpx.get(url, headers={"Sec-Fetch-Site": "cross-site"}).status_code == 403  # framing, links
    assert httpx.get(url, headers={"Host": "evil.example"}).status_code == 403  # DNS rebinding
    page = httpx.get(url)
    assert "frame-ancestors 'self'" in page.headers["content-security-policy"]
