"""template.yaml under checkov (pinned in the Makefile, installed into .venv-checkov by `make tools`).

Every finding is either fixed in the template or skipped there with a reason
(``Metadata: checkov: skip: - id, comment``), so the count of unjustified findings must be 0; a
new resource or property that checkov flags fails this test until it is fixed or justified.
checkov lives in its own venv because its pins clash with the app's. Outside `make test`, without
that venv, the test skips and says so; under CI (``CI`` set) a missing checkov is a failure.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
from typing import Any

import pytest
from aws_testkit import ROOT, TEMPLATE

CHECKOV = ROOT / ".venv-checkov" / "bin" / "checkov"
PINNED = re.search(r"^CHECKOV_VERSION := (\S+)$", (ROOT / "Makefile").read_text(), re.MULTILINE)


@pytest.fixture(scope="module")
def report() -> dict[str, Any]:
    if not CHECKOV.exists():
        message = f"{CHECKOV.relative_to(ROOT)} is missing: run `make tools` (or test via `make test`)"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    result = subprocess.run(
        [
            str(CHECKOV),
            "--file",
            str(TEMPLATE),
            "--framework",
            "cloudformation",
            "--skip-download",  # no network: the guideline links are not needed
            "--output",
            "json",
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
        env={**os.environ, "BC_SKIP_MAPPING": "TRUE"},
    )
    assert result.returncode in (0, 1), result.stderr[-2000:]  # 1 = findings, reported below
    parsed: dict[str, Any] = json.loads(result.stdout)
    return parsed


def test_checkov_is_the_pinned_version(report: dict[str, Any]) -> None:
    assert PINNED, "the Makefile pins checkov as CHECKOV_VERSION := x.y.z"
    assert report["summary"]["checkov_version"] == PINNED.group(1)


def test_no_unjustified_finding(report: dict[str, Any]) -> None:
    failed = [
        f"{c['check_id']} {c['resource']}: {c['check_name']}" for c in report["results"]["failed_checks"]
    ]
    assert report["summary"]["parsing_errors"] == 0
    assert not failed, "fix these in template.yaml or skip them there with a reason:\n" + "\n".join(failed)


def test_every_skip_gives_a_reason(report: dict[str, Any]) -> None:
    skipped = report["results"]["skipped_checks"]
    assert skipped, "the template's justified skips should be visible to checkov"
    vague = [
        f"{c['check_id']} {c['resource']}"
        for c in skipped
        if len((c.get("check_result") or {}).get("suppress_comment") or "") < 60
    ]
    assert not vague, "skips without a real reason: " + ", ".join(vague)


@pytest.mark.parametrize(
    ("check_id", "resource"),
    [
        ("CKV_AWS_21", "AWS::S3::Bucket.ArtifactBucket"),  # versioning
        ("CKV_AWS_18", "AWS::S3::Bucket.ArtifactBucket"),  # access logging
        ("CKV_AWS_158", "AWS::Logs::LogGroup.ApiAccessLogGroup"),  # KMS
        ("CKV_AWS_158", "AWS::Logs::LogGroup.StateMachineLogGroup"),
        ("CKV_AWS_115", "AWS::Serverless::Function.PredictFunction"),  # reserved concurrency
    ],
)
def test_what_a_production_user_needs_is_fixed_not_skipped(
    report: dict[str, Any], check_id: str, resource: str
) -> None:
    passed = {(c["check_id"], c["resource"]) for c in report["results"]["passed_checks"]}
    assert (check_id, resource) in passed
