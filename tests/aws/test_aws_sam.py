"""The template under AWS's own tools: `sam validate --lint`, `cfn-lint`, and a real `sam build`.

`make test` puts .venv-sam/bin (aws-sam-cli with cfn-lint, installed by `make tools`) on PATH,
as CI does. Run outside make without it, these tests skip and say so.
"""

from __future__ import annotations

import filecmp
import subprocess
from pathlib import Path

import pytest
from aws_testkit import ROOT, TEMPLATE, tool_env, which

from pipeline.code_package import code_files

SAM = which("sam")
CFN_LINT = which("cfn-lint")
needs_sam = pytest.mark.skipif(
    SAM is None, reason="sam is not on PATH: run `make tools` and test via `make test`"
)
needs_cfn_lint = pytest.mark.skipif(
    CFN_LINT is None, reason="cfn-lint is not on PATH: run `make tools` and test via `make test`"
)


def _run(args: list[str], cwd: Path = ROOT, timeout: int = 300) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        args, cwd=cwd, env=tool_env(), capture_output=True, text=True, timeout=timeout, check=False
    )


@needs_sam
def test_sam_validate_lint() -> None:
    result = _run([str(SAM), "validate", "--lint", "--template-file", str(TEMPLATE)])
    assert result.returncode == 0, result.stdout + result.stderr
    assert "is a valid SAM Template" in result.stdout + result.stderr


@needs_cfn_lint
def test_cfn_lint() -> None:
    result = _run([str(CFN_LINT), str(TEMPLATE)])
    assert result.returncode == 0, result.stdout + result.stderr


@needs_sam
def test_sam_build_ships_the_functions_and_the_training_code(tmp_path: Path) -> None:
    build = tmp_path / "build"
    result = _run(
        [
            str(SAM),
            "build",
            "--template-file",
            str(TEMPLATE),
            "--build-dir",
            str(build),
            "--cache-dir",
            str(tmp_path / "cache"),
        ],
        timeout=600,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert (build / "template.yaml").is_file()
    artifact = build / "StartTuningFunction"
    assert (artifact / "pipeline" / "start_tuning.py").is_file()
    assert (artifact / "aws_lambda_powertools").is_dir() and (artifact / "pydantic").is_dir()
    # the training code travels inside the function package, byte for byte, without caches
    shipped = artifact / ".training-code"
    expected = code_files(ROOT / "functions" / ".training-code")
    for name, source in expected:
        copy = shipped / name
        assert copy.is_file(), f"{name} missing from the built artifact"
        assert filecmp.cmp(source, copy, shallow=False), name
    assert not list(shipped.rglob("__pycache__"))
    for function in ("CheckStatusFunction", "PredictFunction", "CleanupFunction"):
        assert (build / function / "pipeline" / "__init__.py").is_file()
    # the upload page (GET /) is package data read at cold start: it must ship with PredictFunction
    page = build / "PredictFunction" / "pipeline" / "static" / "upload.html"
    assert filecmp.cmp(ROOT / "functions" / "pipeline" / "static" / "upload.html", page, shallow=False)
