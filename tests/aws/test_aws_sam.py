"""The template under AWS's own tools: `sam validate --lint`, `cfn-lint`, and a real `sam build`.

The build must give eight function packages holding their code only (under 1 MB each) and one
dependencies layer built once, at requirements.lock's versions.

`make test` puts .venv-sam/bin (aws-sam-cli with cfn-lint, installed by `make tools`) on PATH,
as CI does. Run outside make without it, these tests skip and say so.
"""

from __future__ import annotations

import filecmp
import subprocess
from pathlib import Path

import pytest
from aws_testkit import ROOT, TEMPLATE, load_template, tool_env, which

from pipeline.code_package import code_files
from scripts.export_requirements import normalize, parse_lock

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


FUNCTIONS = (
    "StartTuningFunction",
    "CheckStatusFunction",
    "PickBestFunction",
    "StartTrainingFunction",
    "DeployGateFunction",
    "DeployEndpointFunction",
    "CleanupFunction",
    "PredictFunction",
)
# A function package is its code only: the `pipeline` package and the training code it publishes.
FUNCTION_ENTRIES = {"pipeline", ".training-code"}
MAX_FUNCTION_BYTES = 1 << 20
# import name in the layer -> distribution pinned by requirements.lock
LAYER_PACKAGES = {
    "boto3": "boto3",
    "botocore": "botocore",
    "pydantic": "pydantic",
    "pydantic_core": "pydantic-core",
    "aws_lambda_powertools": "aws-lambda-powertools",
    "aws_xray_sdk": "aws-xray-sdk",
}


def _tree_bytes(path: Path) -> int:
    return sum(f.stat().st_size for f in path.rglob("*") if f.is_file())


@pytest.fixture(scope="module")
def sam_build(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    """One `sam build` of template.yaml: (build dir, its output)."""
    if SAM is None:
        pytest.skip("sam is not on PATH: run `make tools` and test via `make test`")
    tmp = tmp_path_factory.mktemp("sam")
    build = tmp / "build"
    result = _run(
        [
            str(SAM),
            "build",
            "--template-file",
            str(TEMPLATE),
            "--build-dir",
            str(build),
            "--cache-dir",
            str(tmp / "cache"),
        ],
        timeout=600,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    return build, result.stdout + result.stderr


@needs_sam
def test_sam_build_ships_function_code_only(sam_build: tuple[Path, str]) -> None:
    build, _ = sam_build
    assert (build / "template.yaml").is_file()
    for function in FUNCTIONS:
        artifact = build / function
        entries = {p.name for p in artifact.iterdir()}
        assert entries == FUNCTION_ENTRIES, f"{function} ships {sorted(entries - FUNCTION_ENTRIES)}"
        assert not list(artifact.rglob("*.dist-info")), f"{function} ships an installed distribution"
        size = _tree_bytes(artifact)
        assert size <= MAX_FUNCTION_BYTES, f"{function} is {size} bytes unzipped (limit 1 MB)"
        assert (artifact / "pipeline" / "__init__.py").is_file()
    # the training code travels inside the function package, byte for byte, without caches
    shipped = build / "StartTuningFunction" / ".training-code"
    expected = code_files(ROOT / "functions" / ".training-code")
    for name, source in expected:
        copy = shipped / name
        assert copy.is_file(), f"{name} missing from the built artifact"
        assert filecmp.cmp(source, copy, shallow=False), name
    assert not list(shipped.rglob("__pycache__"))
    # the upload page (GET /) is package data read at cold start: it must ship with PredictFunction
    page = build / "PredictFunction" / "pipeline" / "static" / "upload.html"
    assert filecmp.cmp(ROOT / "functions" / "pipeline" / "static" / "upload.html", page, shallow=False)


@needs_sam
def test_sam_build_builds_one_dependencies_layer_at_the_locks_versions(sam_build: tuple[Path, str]) -> None:
    build, output = sam_build
    assert output.count("Building layer 'DependenciesLayer'") == 1, output
    built = load_template(build / "template.yaml")
    layers = [k for k, r in built["Resources"].items() if r["Type"] == "AWS::Serverless::LayerVersion"]
    assert layers == ["DependenciesLayer"]
    assert built["Globals"]["Function"]["Layers"] == [{"Ref": "DependenciesLayer"}]
    for function in FUNCTIONS:
        assert "Layers" not in built["Resources"][function]["Properties"], f"{function} overrides Layers"
    site = build / "DependenciesLayer" / "python"  # Lambda extracts it to /opt: /opt/python
    pins = parse_lock((ROOT / "requirements.lock").read_text())
    for module, dist in LAYER_PACKAGES.items():
        assert (site / module).is_dir(), f"{module} missing from the layer"
        found = site.glob("*.dist-info")
        installed = sorted(p.name for p in found if normalize(p.name.split("-")[0]) == dist)
        assert installed == [f"{module}-{pins[dist].version}.dist-info"], (dist, installed)


@needs_sam
def test_sam_build_ships_the_layer_compiled_for_lambdas_python(sam_build: tuple[Path, str]) -> None:
    """/opt is read-only on Lambda: without .pyc in the layer, every cold start compiles pydantic,
    powertools and botocore from source. Each module has a CPython 3.12 .pyc, hash-based and
    unchecked (PEP 552 flags = 1: the import neither stats nor hashes the source)."""
    build, _ = sam_build
    site = build / "DependenciesLayer" / "python"
    sources = [p for p in site.rglob("*.py") if "__pycache__" not in p.parts]
    assert len(sources) > 500  # boto3, botocore, pydantic, powertools and their dependencies
    missing = [p for p in sources if not (p.parent / "__pycache__" / f"{p.stem}.cpython-312.pyc").is_file()]
    assert not missing, f"{len(missing)} modules without a 3.12 .pyc, e.g. {missing[:3]}"
    for module in ("pydantic/main.py", "botocore/client.py", "aws_lambda_powertools/logging/logger.py"):
        pyc = (site / module).parent / "__pycache__" / f"{Path(module).stem}.cpython-312.pyc"
        assert int.from_bytes(pyc.read_bytes()[4:8], "little") == 1, module


@needs_sam
def test_sam_build_ships_each_functions_code_compiled_for_lambdas_python(sam_build: tuple[Path, str]) -> None:
    """/var/task is read-only on Lambda: a function shipped as source compiles every module its
    cold start imports (31-40 ms for the pipeline package with 3.12). functions/Makefile ships
    each module's CPython 3.12 .pyc, unchecked-hash like the layer's; the training code it
    publishes to SageMaker stays source only."""
    build, _ = sam_build
    for function in FUNCTIONS:
        package = build / function / "pipeline"
        sources = [p for p in package.rglob("*.py") if "__pycache__" not in p.parts]
        assert len(sources) >= 20, function
        for source in sources:
            pyc = source.parent / "__pycache__" / f"{source.stem}.cpython-312.pyc"
            assert pyc.is_file(), f"{function}: {source.relative_to(package)} has no 3.12 .pyc"
            assert int.from_bytes(pyc.read_bytes()[4:8], "little") == 1, f"{function}: {pyc.name} is checked"
        assert not list((build / function / ".training-code").rglob("*.pyc")), function
