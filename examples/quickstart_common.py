"""What the two SDK quickstarts (examples/sdk_quickstart.py, examples/sdk3_quickstart.py) share.

The command line they have in common, the step log behind ``--report``, the sample data, the
``--local`` environment and the role lookup; no SageMaker SDK import here, so both SDK majors
use it unchanged. Relies on boto3/botocore (in both SDK venvs) and, for the sample data, the
repo's own generator (training/classifier/sample_data.py: Pillow and numpy).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
SOURCE_DIR = REPO / "training"
LOCAL_ENDPOINT = "http://127.0.0.1:4566"


def metric_definitions(names: tuple[str, ...]) -> list[dict[str, str]]:
    """SageMaker metric definitions for train.py's ``name_with_underscores=value`` lines."""
    return [{"Name": name, "Regex": f"{name.replace(':', '_')}=([0-9.]+)"} for name in names]


def argument_parser(description: str, prefix: str) -> argparse.ArgumentParser:
    """The arguments both quickstarts take; each adds its own."""
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument(
        "--local",
        action="store_true",
        default=os.environ.get("SDK_QUICKSTART_LOCAL", "").lower() in ("1", "true", "yes"),
        help="run against localcloud (AWS_ENDPOINT_URL, default http://127.0.0.1:4566); "
        "also SDK_QUICKSTART_LOCAL=1",
    )
    parser.add_argument("--data", type=Path, help="dataset root with train/ valid/ [test/] class folders")
    parser.add_argument(
        "--role", help="SageMaker execution role ARN (default: the app stack's SageMakerRoleArn output)"
    )
    parser.add_argument(
        "--stack", default="image-classifier-pipeline", help="the app's stack (samconfig.toml)"
    )
    parser.add_argument("--bucket", help="S3 bucket (default: the SDK's default bucket)")
    parser.add_argument("--prefix", default=prefix)
    parser.add_argument("--max-jobs", type=int, default=None, help="tuning trials")
    parser.add_argument("--top-k", type=int, default=5)
    parser.add_argument("--report", type=Path, help="write what each step returned as JSON here")
    return parser


class Steps:
    """Prints each step with its wall time and keeps what it returned for ``--report``."""

    def __init__(self) -> None:
        self.start = time.monotonic()
        self.report: dict[str, Any] = {"steps": {}}

    def done(self, name: str, started: float, **facts: Any) -> None:
        seconds = round(time.monotonic() - started, 2)
        self.report["steps"][name] = {"seconds": seconds, **facts}
        print(f"== {name}: {seconds:.1f}s {json.dumps(facts, default=str)[:400]}", flush=True)

    def finish(self, report: Path | None) -> None:
        """Print the total; write the report to ``report`` when given."""
        self.report["total_seconds"] = round(time.monotonic() - self.start, 2)
        print(f"total: {self.report['total_seconds']:.1f}s")
        if report:
            report.write_text(json.dumps(self.report, indent=2, default=str))


def sample_data(root: Path) -> Path:
    """A tiny ImageFolder data set drawn by the repo's own generator (no download)."""
    sys.path.insert(0, str(SOURCE_DIR))
    from classifier.sample_data import generate

    return generate(root, classes=5, train_per_class=6, valid_per_class=3, test_per_class=1, size=64, seed=0)


def upload_splits(session: Any, bucket: str, data: Path, prefix: str) -> dict[str, str]:
    """One ``session.upload_data`` per split folder; the S3 URIs exactly as it returns them."""
    return {
        split: session.upload_data(str(data / split), bucket=bucket, key_prefix=f"{prefix}/data/{split}")
        for split in ("train", "valid", "test")
        if (data / split).is_dir()
    }


def print_predictions(true_label: str, top: list[dict[str, Any]]) -> None:
    print(f"true label {true_label}; top-{len(top)}:")
    for p in top:
        print(f"  {p['label']:<14} {p['probability']:.3f}")


def local_environment() -> str:
    """Point every boto3 client at localcloud; dummy credentials when none are configured."""
    url = os.environ.setdefault("AWS_ENDPOINT_URL", LOCAL_ENDPOINT)
    os.environ.setdefault("AWS_ACCESS_KEY_ID", "test")
    os.environ.setdefault("AWS_SECRET_ACCESS_KEY", "test")
    os.environ.setdefault("AWS_DEFAULT_REGION", "us-east-1")
    return url


def stack_role(boto_session: Any, stack: str) -> str | None:
    """The app stack's SageMakerRoleArn output (`sam deploy`, or `localcloud up` with template.yaml)."""
    from botocore.exceptions import ClientError

    try:
        stacks = boto_session.client("cloudformation").describe_stacks(StackName=stack)["Stacks"]
    except ClientError:
        return None
    outputs = {o["OutputKey"]: o["OutputValue"] for s in stacks for o in s.get("Outputs") or []}
    return outputs.get("SageMakerRoleArn")


def model_error(error: Exception) -> dict[str, Any]:
    """What the report keeps of the error an endpoint returns for bytes that are not an image."""
    response = getattr(error, "response", {})  # botocore's ModelError (a ClientError)
    return {
        "error": type(error).__name__,
        "code": response.get("Error", {}).get("Code"),
        "original_status": response.get("OriginalStatusCode"),
        "message": str(error)[:300],
    }
