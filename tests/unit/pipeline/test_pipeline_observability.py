"""Tracing, metrics and logging around the handlers, and what each handler imports at cold start.

* the HTTP API answers every request with ``X-Correlation-Id`` = the API's request id, which is
  also the ``correlation_id`` of the request's log lines;
* the ``ColdStart`` metric is emitted once per container, not per invocation;
* a Step Functions handler never imports powertools' event_handler package, and predict imports
  the HTTP resolver without the AppSync / Bedrock resolvers; none imports boto3 (botocore's
  clients are enough) nor pydantic-settings, predict not even pydantic; importing a step builds
  none of its pydantic models (they are built on first use) (fresh interpreters: sys.modules of
  this test process is shared with every other test).
"""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from aws_lambda_powertools import Tracer
from aws_lambda_powertools.metrics.provider import cold_start
from botocore.stub import Stubber
from pipeline_testkit import FakeContext
from test_pipeline_predict import http_event

from localcloud.template.loader import load_template
from pipeline import cleanup, observability, predict
from support.xray import xray_touch_file_removed

ROOT = Path(__file__).resolve().parents[3]
FUNCTIONS = ROOT / "functions"


def _step_handler_modules() -> list[str]:
    """The modules of the Lambdas the state machine calls (template.yaml's DefinitionSubstitutions)."""
    resources = load_template(ROOT / "template.yaml")["Resources"]
    modules = set()
    for value in resources["PipelineStateMachine"]["Properties"]["DefinitionSubstitutions"].values():
        if isinstance(value, dict) and "Fn::GetAtt" in value:
            handler = resources[value["Fn::GetAtt"][0]]["Properties"]["Handler"]
            modules.add(handler.removeprefix("pipeline.").rpartition(".")[0])
    return sorted(modules)


STEP_HANDLERS = _step_handler_modules()
RESOLVERS_PREDICT_MUST_NOT_LOAD = (
    "aws_lambda_powertools.event_handler.appsync",
    "aws_lambda_powertools.event_handler.events_appsync",
    "aws_lambda_powertools.event_handler.graphql_appsync",
    "aws_lambda_powertools.event_handler.bedrock_agent",
    "aws_lambda_powertools.event_handler.bedrock_agent_function",
    "aws_lambda_powertools.event_handler.vpc_lattice",
)


def _json_lines(text: str) -> list[dict[str, Any]]:
    lines = []
    for line in text.splitlines():
        try:
            document = json.loads(line)
        except ValueError:
            continue
        if isinstance(document, dict):
            lines.append(document)
    return lines


def _cold_start_blobs(text: str) -> list[dict[str, Any]]:
    return [
        doc
        for doc in _json_lines(text)
        if any(
            metric["Name"] == "ColdStart"
            for directive in doc.get("_aws", {}).get("CloudWatchMetrics", [])
            for metric in directive["Metrics"]
        )
    ]


def _page_event(request_id: str) -> dict[str, Any]:
    event = http_event(None)
    event["routeKey"] = "GET /"
    event["rawPath"] = "/"
    event["requestContext"]["http"].update(method="GET", path="/")
    event["requestContext"]["requestId"] = request_id
    return event


def test_api_answers_carry_the_request_id_as_correlation_id(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ENDPOINT_NAME", "dog-breeds")
    log = io.StringIO()
    monkeypatch.setattr(predict.logger.registered_handler, "stream", log)
    refused = http_event(b"not an image")
    refused["requestContext"]["requestId"] = "req-refused-1"
    response = predict.handler(refused, FakeContext())  # type: ignore[arg-type]
    assert response["statusCode"] == 400
    assert response["headers"]["X-Correlation-Id"] == "req-refused-1"
    logged = [line for line in _json_lines(log.getvalue()) if line.get("message") == "prediction refused"]
    assert logged and logged[0]["correlation_id"] == "req-refused-1"

    page = predict.handler(_page_event("req-page-2"), FakeContext())  # type: ignore[arg-type]
    assert page["statusCode"] == 200
    assert page["headers"]["X-Correlation-Id"] == "req-page-2"  # each request its own id
    missing = _page_event("req-404-3")
    missing["rawPath"] = missing["requestContext"]["http"]["path"] = "/nothing"
    assert predict.handler(missing, FakeContext())["headers"]["X-Correlation-Id"] == "req-404-3"  # type: ignore[arg-type]


def test_cold_start_metric_once_per_container_on_the_api(
    monkeypatch: pytest.MonkeyPatch, capfd: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr(cold_start, "is_cold_start", True)  # a new container
    capfd.readouterr()
    for request in range(3):
        assert predict.handler(_page_event(f"r-{request}"), FakeContext())["statusCode"] == 200  # type: ignore[arg-type]
    blobs = _cold_start_blobs(capfd.readouterr().out)
    assert len(blobs) == 1, blobs
    assert blobs[0]["ColdStart"] in (1, [1.0], 1.0)
    assert blobs[0]["function_name"] == FakeContext.function_name


def test_cold_start_metric_once_per_container_on_a_step(
    monkeypatch: pytest.MonkeyPatch,
    capfd: pytest.CaptureFixture[str],
    sm: tuple[Any, Stubber],
) -> None:
    client, stub = sm
    for _ in range(2):  # nothing of this execution exists: cleanup stops nothing
        stub.add_client_error("describe_hyper_parameter_tuning_job", "ResourceNotFound", "not found")
        stub.add_client_error("describe_training_job", "ValidationException", "Requested resource not found")
    monkeypatch.setattr(cleanup, "sagemaker_client", lambda: client)
    monkeypatch.setattr(cold_start, "is_cold_start", True)
    capfd.readouterr()
    event = {"executionName": "run-1", "error": {"Error": "States.Timeout", "Cause": "too slow"}}
    for _ in range(2):
        assert cleanup.handler(event, FakeContext())["error"] == "States.Timeout"  # type: ignore[arg-type]
    assert len(_cold_start_blobs(capfd.readouterr().out)) == 1


def _fresh_json(code: str, **environ: str) -> Any:
    """Run ``code`` in a fresh interpreter on functions/ (outside Lambda unless ``environ`` says
    otherwise); the JSON of its last line of output."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTHON", "LAMBDA_", "POWERTOOLS_TRACE"))}
    env.update(PYTHONPATH=str(FUNCTIONS), AWS_DEFAULT_REGION="us-east-1", **environ)
    done = subprocess.run(
        [sys.executable, "-c", code], env=env, cwd=FUNCTIONS, capture_output=True, text=True, check=True
    )
    return json.loads(done.stdout.splitlines()[-1])


def _modules_after_import(module: str) -> list[str]:
    modules: list[str] = _fresh_json(
        f"import json, sys; import pipeline.{module}; print(json.dumps(sorted(sys.modules)))"
    )
    return modules


# The pydantic models of the pipeline's modules that a fresh import has already built (validators
# made): none should be, each is built when a step first validates with it (defer_build).
BUILT_MODELS = """
import inspect, json, sys
import pipeline.{module}
from pydantic import BaseModel
built = sorted(
    f"{{name}}.{{cls.__name__}}"
    for name, mod in list(sys.modules.items()) if name.startswith("pipeline.")
    for cls in vars(mod).values()
    if inspect.isclass(cls) and issubclass(cls, BaseModel) and cls.__module__ == name
    and cls.__pydantic_complete__
)
print(json.dumps(built))
"""


def test_the_state_machine_calls_seven_handlers() -> None:
    assert len(STEP_HANDLERS) == 7 and "cleanup" in STEP_HANDLERS, STEP_HANDLERS


@pytest.mark.parametrize("module", STEP_HANDLERS)
def test_step_handlers_do_not_import_the_event_handler_package(module: str) -> None:
    loaded = _modules_after_import(module)
    assert f"pipeline.{module}" in loaded
    event_handler = [m for m in loaded if m.split(".")[:2] == ["aws_lambda_powertools", "event_handler"]]
    assert event_handler == []
    assert "boto3" not in loaded and "s3transfer" not in loaded  # botocore's clients, without boto3's layers


@pytest.mark.parametrize("module", [*STEP_HANDLERS, "predict"])
def test_no_handler_imports_pydantic_settings(module: str) -> None:
    """The environment is read by a plain pydantic model (config.Defaults): pydantic-settings'
    import cost every cold start ~35 ms."""
    loaded = _modules_after_import(module)
    assert [m for m in loaded if m.split(".")[0] == "pydantic_settings"] == []


@pytest.mark.parametrize("module", STEP_HANDLERS)
def test_no_step_imports_the_hyperparameter_rules_before_it_checks_some(module: str) -> None:
    """pipeline.hyperparameters (train.py's rules) is imported by execution_input's checks of the ranges and
    static values an execution input gives, not by importing a step (~3 ms of each cold start)."""
    assert "pipeline.hyperparameters" not in _modules_after_import(module)


@pytest.mark.parametrize("module", STEP_HANDLERS)
def test_only_start_tuning_imports_the_execution_input_models(module: str) -> None:
    """The later steps read the resolved configuration from the state: the input models and the
    rules that resolve them (pipeline.execution_input, ~15 model classes) are StartTuning's alone."""
    loaded = _modules_after_import(module)
    assert "pipeline.state" in loaded or module == "cleanup"
    assert ("pipeline.execution_input" in loaded) is (module == "start_tuning")


RESOLVE_DEFAULTS = """
import json, sys
from pipeline.config import Defaults
from pipeline.execution_input import resolve_config
defaults = Defaults.from_env({{
    "BUCKET_NAME": "bucket", "SAGEMAKER_ROLE_ARN": "arn:aws:iam::123456789012:role/sagemaker",
    "TRAINING_IMAGE_URI": "training:1", "INFERENCE_IMAGE_URI": "inference:1",
}})
resolve_config({given}, defaults)
print(json.dumps("pipeline.hyperparameters" in sys.modules))
"""


def test_start_tuning_on_defaults_does_not_import_the_hyperparameter_rules() -> None:
    """An execution input without ranges or static values has nothing of train.py's to check."""
    assert _fresh_json(RESOLVE_DEFAULTS.format(given="{}")) is False
    assert _fresh_json(RESOLVE_DEFAULTS.format(given='{"tuning": {"static": {"arch": "resnet18"}}}')) is True


@pytest.mark.parametrize("module", STEP_HANDLERS)
def test_no_step_imports_tarfile(module: str) -> None:
    """tarfile (~3 ms) is imported where an archive is read or made, not by a step's import."""
    assert "tarfile" not in _modules_after_import(module)


@pytest.mark.parametrize("module", STEP_HANDLERS)
def test_importing_a_step_builds_none_of_its_models(module: str) -> None:
    assert _fresh_json(BUILT_MODELS.format(module=module)) == []


TRACING = """
import json, sys
import pipeline.{module} as handler
from pipeline.observability import tracing_on
patched = []
if "aws_xray_sdk.core.patcher" in sys.modules:
    patched = sorted(sys.modules["aws_xray_sdk.core.patcher"]._PATCHED_MODULES)
print(json.dumps({{
    "on": tracing_on(),
    "tracer": type(handler.tracer).__name__,
    "xray": any(name.split(".")[0] == "aws_xray_sdk" for name in sys.modules),
    "patched": patched,
    "asyncio": "asyncio" in sys.modules,
}}))
"""
IN_LAMBDA = {"LAMBDA_TASK_ROOT": str(FUNCTIONS), "AWS_LAMBDA_FUNCTION_NAME": "f"}


@pytest.mark.parametrize("module", ["predict", "check_status"])
def test_tracing_on_lambda_patches_botocore(module: str) -> None:
    """On Lambda with tracing (AWS, template.yaml Tracing: Active): powertools' Tracer, botocore traced.
    The X-Ray SDK's wrapt is 1.x (pyproject.toml): wrapt 2.x imports asyncio, ~10 ms of each traced
    cold start, which nothing here uses."""
    with xray_touch_file_removed():
        traced = _fresh_json(TRACING.format(module=module), **IN_LAMBDA)
    assert traced == {"on": True, "tracer": "Tracer", "xray": True, "patched": ["botocore"], "asyncio": False}


@pytest.mark.parametrize("module", ["predict", "check_status"])
@pytest.mark.parametrize("environ", [{**IN_LAMBDA, "POWERTOOLS_TRACE_DISABLED": "true"}, {}])
def test_without_tracing_no_xray_sdk_is_imported(module: str, environ: dict[str, str]) -> None:
    """localcloud (POWERTOOLS_TRACE_DISABLED) and anything off Lambda: no Tracer, no X-Ray SDK import."""
    traced = _fresh_json(TRACING.format(module=module), **environ)
    assert traced == {"on": False, "tracer": "NoneType", "xray": False, "patched": [], "asyncio": False}


def test_pydantic_plugins_are_not_searched_unless_the_environment_says(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The functions use no pydantic plugin: importing them turns off pydantic's search for one
    (every installed distribution's entry points, on the first model built); a value the
    environment sets is kept."""
    monkeypatch.delenv("PYDANTIC_DISABLE_PLUGINS", raising=False)  # this process imported pipeline
    code = "import json, os, pipeline; print(json.dumps(os.environ.get('PYDANTIC_DISABLE_PLUGINS')))"
    assert _fresh_json(code) == "__all__"
    assert _fresh_json(code, PYDANTIC_DISABLE_PLUGINS="some_plugin") == "some_plugin"


@pytest.mark.parametrize(
    "environ",
    [
        {},
        {"LAMBDA_TASK_ROOT": "/var/task"},
        {"LAMBDA_TASK_ROOT": "/var/task", "POWERTOOLS_TRACE_DISABLED": "1"},
        {"LAMBDA_TASK_ROOT": "/var/task", "POWERTOOLS_TRACE_DISABLED": "false"},
        {"LAMBDA_TASK_ROOT": "/var/task", "POWERTOOLS_TRACE_DISABLED": "Yes"},
        {"LAMBDA_TASK_ROOT": "/var/task", "AWS_SAM_LOCAL": "true"},
        {"LAMBDA_TASK_ROOT": "/var/task", "AWS_CHALICE_CLI_MODE": "true"},
        {"POWERTOOLS_TRACE_DISABLED": "0"},
    ],
)
def test_tracing_on_is_powertools_own_rule(environ: dict[str, str], monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("LAMBDA_TASK_ROOT", "POWERTOOLS_TRACE_DISABLED", "AWS_SAM_LOCAL", "AWS_CHALICE_CLI_MODE"):
        monkeypatch.delenv(name, raising=False)
    for name, value in environ.items():
        monkeypatch.setenv(name, value)
    assert observability.tracing_on() is not Tracer._is_tracer_disabled()
    assert observability.tracing_on(environ) is observability.tracing_on()


def test_predict_imports_no_pydantic() -> None:
    assert [m for m in _modules_after_import("predict") if m.split(".")[0] == "pydantic"] == []


def test_predict_imports_the_http_resolver_alone() -> None:
    loaded = set(_modules_after_import("predict"))
    assert "aws_lambda_powertools.event_handler.api_gateway" in loaded
    assert "boto3" not in loaded
    assert loaded.isdisjoint(RESOLVERS_PREDICT_MUST_NOT_LOAD), sorted(
        loaded.intersection(RESOLVERS_PREDICT_MUST_NOT_LOAD)
    )


def test_the_event_handler_package_still_imports_whole_after_predict() -> None:
    """Code that later wants another resolver from the package gets it (its __init__ runs then)."""
    code = (
        "import pipeline.predict\n"
        "from aws_lambda_powertools.event_handler import AppSyncResolver, APIGatewayHttpResolver\n"
        "from pipeline.http_api import APIGatewayHttpResolver as ours\n"
        "assert ours is APIGatewayHttpResolver, 'one class, not two copies'\n"
        "print(AppSyncResolver.__module__)\n"
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYTHON")}
    env.update(PYTHONPATH=str(FUNCTIONS), AWS_DEFAULT_REGION="us-east-1")
    done = subprocess.run(
        [sys.executable, "-c", code], env=env, cwd=FUNCTIONS, capture_output=True, text=True, check=False
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "aws_lambda_powertools.event_handler.appsync"
