"""Lambda layers on a real ``localcloud up``: a function imports from its layers' python/ directories
as from Lambda's /opt/python (the last layer winning), and a BuildMethod layer that is only a
requirements file runs on localcloud's own packages, with a warning (once per layer, not per function)
for each pin they differ from."""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from importlib import metadata
from pathlib import Path

import pytest

from support.localcloud_proc import LocalCloudProcess

pytestmark = pytest.mark.slow

TEMPLATE = """\
AWSTemplateFormatVersion: "2010-09-09"
Transform: AWS::Serverless-2016-10-31
Globals:
  Function:
    Runtime: python3.11
    Layers: [!Ref FirstLayer]
Resources:
  LayeredFunction:
    Type: AWS::Serverless::Function
    Properties:
      CodeUri: fn/
      Handler: app.handler
      Layers: [!Ref SecondLayer, !Ref DepsLayer]
  OtherFunction:
    Type: AWS::Serverless::Function
    Properties:
      CodeUri: fn/
      Handler: app.handler
      Layers: [!Ref DepsLayer]
  FirstLayer:
    Type: AWS::Serverless::LayerVersion
    Properties:
      ContentUri: first/
  SecondLayer:
    Type: AWS::Serverless::LayerVersion
    Properties:
      ContentUri: second/
  DepsLayer:
    Type: AWS::Serverless::LayerVersion
    Metadata:
      BuildMethod: python3.12
    Properties:
      ContentUri: deps/
"""

HANDLER = """\
import pydantic

import layermod
import shared


def handler(event, context):
    return {"layermod": layermod.__file__, "shared": shared.WHO, "pydantic": pydantic.VERSION}
"""


def _write(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)


@pytest.fixture(scope="module")
def app(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("layers")
    _write(root / "template.yaml", TEMPLATE)
    _write(root / "fn" / "app.py", HANDLER)
    _write(root / "first" / "python" / "layermod.py", "")
    _write(root / "first" / "python" / "shared.py", "WHO = 'first'\n")
    site = f"python{sys.version_info.major}.{sys.version_info.minor}"
    _write(root / "second" / "python" / "lib" / site / "site-packages" / "shared.py", "WHO = 'second'\n")
    pins = [
        f"pydantic=={metadata.version('pydantic')} \\",
        "    --hash=sha256:" + "0" * 64,
        "starlette==0.0.1",
        "surely-not-installed-package==1.0",
        "boto3==0.0.1 ; python_version < '3'",  # not for this Python: not checked
    ]
    _write(root / "deps" / "requirements.txt", "# generated\n" + "\n".join(pins) + "\n")
    return root


@pytest.fixture(scope="module")
def lc(app: Path) -> Iterator[LocalCloudProcess]:
    with LocalCloudProcess(app.parent / f"{app.name}-state", template=app / "template.yaml") as proc:
        yield proc


def test_function_imports_from_its_layers_python_directories(lc: LocalCloudProcess, app: Path) -> None:
    response = lc.client("lambda").invoke(FunctionName="LayeredFunction", Payload=b"{}")
    body = json.loads(response["Payload"].read())
    assert "FunctionError" not in response, body
    assert body["layermod"] == str(app / "first" / "python" / "layermod.py")
    assert body["shared"] == "second"  # the later layer's file wins, as in /opt
    assert body["pydantic"] == metadata.version("pydantic")  # the requirements-only layer: our own
    layers = lc.client("lambda").get_function_configuration(FunctionName="LayeredFunction")["Layers"]
    assert [layer["Arn"].split(":")[-2].split("-")[1] for layer in layers] == [
        "FirstLayer",
        "SecondLayer",
        "DepsLayer",
    ]


def test_a_pin_the_environment_does_not_satisfy_is_reported(lc: LocalCloudProcess) -> None:
    log = lc.server_log()
    starlette = metadata.version("starlette")
    assert f"pins starlette==0.0.1 but localcloud's environment has starlette {starlette}" in log
    assert log.count("pins starlette==0.0.1") == 1  # once for the layer, not once per function
    assert "pins surely-not-installed-package==1.0 but localcloud's environment does not have" in log
    assert "pins pydantic" not in log and "pins boto3" not in log
