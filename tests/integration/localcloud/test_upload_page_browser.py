"""The upload page (``GET /`` on the app's HTTP API) in a real browser: Playwright for Python
driving Debian's chromium (``executable_path``, no browser download) against ``localcloud up``
with the repository's template.yaml and a real endpoint (the real train.py, tiny settings).

Screenshots go to ``test-artifacts/upload-page/`` (gitignored; ``$TEST_ARTIFACTS`` overrides).
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from classifier.sample_data import generate
from support.chromium import CHROMIUM, MISSING, collect_errors, launch
from support.localcloud_proc import REPO, LocalCloudProcess
from support.sagemaker_jobs import (
    ROLE,
    TINY,
    channels,
    real_source,
    training_request,
    upload_dataset,
    wait_for,
)

pytestmark = pytest.mark.slow

APP_TEMPLATE = REPO / "template.yaml"
ENDPOINT = "dog-breeds"  # template.yaml's EndpointName default, which PredictFunction calls
BUCKET = "upload-page-tests"
ARTIFACTS = Path(os.environ.get("TEST_ARTIFACTS", REPO / "test-artifacts")) / "upload-page"
PHONE = {"width": 390, "height": 844}

if not CHROMIUM.exists():
    pytest.skip(MISSING, allow_module_level=True)


@pytest.fixture(scope="module")
def dataset(module_tmp_path: Path) -> Path:
    return generate(
        module_tmp_path / "dataset",
        classes=6,
        train_per_class=4,
        valid_per_class=2,
        test_per_class=2,
        size=32,
        seed=0,
    )


@pytest.fixture(scope="module")
def lc(module_tmp_path: Path, dataset: Path) -> Iterator[LocalCloudProcess]:
    """localcloud with the app's template and the endpoint its PredictFunction calls, InService."""
    with LocalCloudProcess(
        module_tmp_path / "state",
        template=APP_TEMPLATE,
        env={"LOCALCLOUD_STACK_NAME": "pipeline"},
    ) as proc:
        s3, sm = proc.client("s3"), proc.client("sagemaker")
        s3.create_bucket(Bucket=BUCKET)
        upload_dataset(s3, BUCKET, dataset)
        s3.put_object(Bucket=BUCKET, Key="code/sourcedir.tar.gz", Body=real_source())
        sm.create_training_job(
            **training_request(
                "upload-page-tiny",
                code_uri=f"s3://{BUCKET}/code/sourcedir.tar.gz",
                data=channels(BUCKET, "data/"),
                output=f"s3://{BUCKET}/output/",
                hyperparameters=TINY,
            )
        )
        job = wait_for(
            lambda: sm.describe_training_job(TrainingJobName="upload-page-tiny"),
            "TrainingJobStatus",
            ("Completed", "Failed", "Stopped"),
            timeout=600,
        )
        assert job["TrainingJobStatus"] == "Completed", job.get("FailureReason")
        sm.create_model(
            ModelName="upload-page-model",
            ExecutionRoleArn=ROLE,
            PrimaryContainer={
                "Image": "763104351884.dkr.ecr.us-east-1.amazonaws.com/pytorch-inference:2.5-cpu-py311",
                "ModelDataUrl": job["ModelArtifacts"]["S3ModelArtifacts"],
                "Environment": {
                    "SAGEMAKER_PROGRAM": "inference.py",
                    "SAGEMAKER_SUBMIT_DIRECTORY": "/opt/ml/model/code",
                },
            },
        )
        sm.create_endpoint_config(
            EndpointConfigName="upload-page-config",
            ProductionVariants=[
                {
                    "VariantName": "AllTraffic",
                    "ModelName": "upload-page-model",
                    "InitialInstanceCount": 1,
                    "InstanceType": "ml.m5.large",
                }
            ],
        )
        sm.create_endpoint(EndpointName=ENDPOINT, EndpointConfigName="upload-page-config")
        described = wait_for(
            lambda: sm.describe_endpoint(EndpointName=ENDPOINT),
            "EndpointStatus",
            ("InService", "Failed"),
            timeout=300,
        )
        assert described["EndpointStatus"] == "InService", described.get("FailureReason")
        yield proc


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    with launch() as launched:
        yield launched


@pytest.fixture(scope="module")
def artifacts() -> Path:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)  # each test overwrites its own screenshot
    return ARTIFACTS


@pytest.fixture
def page_errors() -> list[str]:
    return []


def open_page(browser: Any, lc: LocalCloudProcess, errors: list[str], **context: Any) -> Any:
    """A fresh page at the API's ``/``; console errors and page errors (CSP violations among them) collect."""
    page = browser.new_context(**context).new_page()
    collect_errors(page, errors)
    response = page.goto(f"{lc.api_url}/")
    assert response is not None and response.status == 200
    assert response.headers["content-type"] == "text/html; charset=utf-8"
    assert "default-src 'none'" in response.headers["content-security-policy"]
    return page


def test_a_jpeg_gets_five_bars_whose_widths_follow_the_probabilities(
    browser: Any, lc: LocalCloudProcess, dataset: Path, artifacts: Path, page_errors: list[str]
) -> None:
    image = sorted((dataset / "test").rglob("*.jpg"))[0]
    expected = httpx.post(f"{lc.api_url}/predict", content=image.read_bytes(), timeout=60).json()[
        "predictions"
    ]
    assert len(expected) == 5
    page = open_page(browser, lc, page_errors, viewport={"width": 1000, "height": 900})
    page.set_input_files("#file", str(image))
    page.wait_for_selector("#results li:nth-child(5)")
    rows = page.eval_on_selector_all(
        "#results li",
        """items => items.map(li => ({
            label: li.querySelector('.label').textContent,
            bar: li.querySelector('.bar').getBoundingClientRect().width,
            track: li.querySelector('.track').getBoundingClientRect().width,
        }))""",
    )
    page.screenshot(path=str(artifacts / "jpeg-desktop.png"), full_page=True)
    assert [row["label"] for row in rows] == [p["label"] for p in expected]
    for row, prediction in zip(rows, expected, strict=True):
        assert row["bar"] / row["track"] == pytest.approx(prediction["probability"], abs=0.01), (
            row,
            prediction,
        )
    assert page.is_visible("#preview") and page.eval_on_selector("#preview", "img => img.naturalWidth") > 0
    assert page.is_hidden("#error")
    assert page_errors == []  # no CSP violation, no script error


REFUSALS = {
    # file name, its bytes, what the browser labels it, the API's status
    "text": ("notes.txt", b"these are notes, not a picture\n", "text/plain", 400),
    "empty": ("empty.jpg", b"", "image/jpeg", 400),
    "too-large": ("huge.jpg", b"\xff\xd8\xff\xe0" + b"\x00" * (5 * 1024 * 1024), "image/jpeg", 413),
}


@pytest.mark.parametrize("case", list(REFUSALS))
def test_the_apis_4xx_message_shows_inline(
    case: str, browser: Any, lc: LocalCloudProcess, tmp_path: Path, artifacts: Path, page_errors: list[str]
) -> None:
    name, content, mime, status = REFUSALS[case]
    refused = httpx.post(f"{lc.api_url}/predict", content=content, headers={"content-type": mime}, timeout=60)
    assert refused.status_code == status, refused.text
    page = open_page(browser, lc, page_errors, viewport={"width": 1000, "height": 900})
    page.set_input_files("#file", files=[{"name": name, "mimeType": mime, "buffer": content}])
    page.wait_for_selector("#error", state="visible")
    page.screenshot(path=str(artifacts / f"{case}-error.png"), full_page=True)
    assert page.text_content("#error") == refused.json()["message"]
    assert page.text_content("#status") == f"{name} was refused ({status}):"
    assert page.eval_on_selector_all("#results li", "items => items.length") == 0
    assert page.is_hidden("#preview")  # no broken-image icon for what does not decode
    # the browser logs a console error for the refused fetch itself; nothing else may be logged
    assert all(str(status) in error for error in page_errors), page_errors


def test_on_a_phone_nothing_overflows_and_the_keyboard_reaches_the_picker(
    browser: Any, lc: LocalCloudProcess, dataset: Path, artifacts: Path, page_errors: list[str]
) -> None:
    page = open_page(
        browser, lc, page_errors, viewport=PHONE, device_scale_factor=3, is_mobile=True, has_touch=True
    )
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.id") == "file"
    page.set_input_files("#file", str(sorted((dataset / "test").rglob("*.jpg"))[-1]))
    page.wait_for_selector("#results li:nth-child(5)")
    page.screenshot(path=str(artifacts / "jpeg-phone-390x844.png"), full_page=True)
    assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
    too_wide = page.evaluate(
        """limit => Array.from(document.querySelectorAll('body *'))
            .filter(el => {const r = el.getBoundingClientRect(); return r.right > limit || r.width > limit; })
            .map(el => el.tagName + '#' + el.id + '.' + el.className)""",
        PHONE["width"],
    )
    assert too_wide == []
    assert page_errors == []


def test_the_pages_same_origin_fetch_passes_the_edge_guard_under_either_loopback_name(
    lc: LocalCloudProcess,
) -> None:
    """What the page's fetch sends (Origin = its own origin, Sec-Fetch-Site: same-origin) is answered by
    PredictFunction under 127.0.0.1 and localhost alike, not refused by localcloud's guard."""
    for origin in (lc.api_url, f"http://localhost:{lc.api_port}"):
        answer = httpx.post(
            f"{origin}/predict",
            content=b"x",
            headers={"origin": origin, "sec-fetch-site": "same-origin", "content-type": "text/plain"},
            timeout=60,
        )
        assert answer.status_code == 400, answer.text
        assert "is not a" in json.loads(answer.text)["message"]
