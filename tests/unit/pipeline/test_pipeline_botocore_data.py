"""The botocore data the functions ship (functions/pipeline/botocore_data, scripts/botocore_data.py).

* the committed folder is what the script generates from the installed botocore, which is the
  one requirements.lock pins (so a botocore bump without regenerating fails here);
* every client method the functions' code calls is an operation of the trimmed models, and every
  shape the trimmed models mention is in them;
* the functions' session loads its models from that folder alone: the SageMaker client it makes
  knows the pipeline's operations, not SageMaker's hundreds;
* its file loader (plain dicts, not botocore's OrderedDicts) reads the same data in the same order.
(The Stubber clients of every pipeline test are made the same way: conftest.py.)
"""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path
from typing import Any

import botocore
import pytest
from botocore.loaders import JSONFileLoader, Loader

from pipeline import aws, execution_input
from scripts import botocore_data

ROOT = Path(__file__).resolve().parents[3]
CODE = ROOT / "functions" / "pipeline"
# The names the functions give their clients: sagemaker.describe_endpoint(...), s3.get_object(...).
CLIENT_VARIABLES = {"sagemaker": "sagemaker", "s3": "s3", "runtime": "sagemaker-runtime"}
CALL = re.compile(r"\b(sagemaker|s3|runtime)\.([a-z][a-z0-9_]*)\b")


def _client(service: str) -> Any:
    return aws.new_session().create_client(service, region_name="us-east-1")


def test_committed_data_is_what_the_locked_botocore_generates() -> None:
    assert botocore.__version__ == botocore_data.locked_botocore_version(botocore_data.LOCK.read_text())
    assert botocore_data.main(["--check"]) == 0, "run scripts/botocore_data.py"


def test_a_stale_folder_is_reported(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    stale = tmp_path / "botocore_data"
    shutil.copytree(botocore_data.TARGET, stale)
    model = stale / "sagemaker" / "2017-07-24" / "service-2.json"
    model.write_text(model.read_text().replace('"UpdateEndpoint"', '"UpdateEndpointX"', 1))
    assert botocore_data.main(["--check", "--target", str(stale)]) == 1
    assert "run scripts/botocore_data.py" in capsys.readouterr().err


def _calls_in_code() -> set[tuple[str, str]]:
    calls = set()
    for path in CODE.glob("*.py"):
        for variable, method in CALL.findall(path.read_text()):
            calls.add((CLIENT_VARIABLES[variable], method))
    return calls


def test_every_call_the_code_makes_is_in_the_trimmed_models() -> None:
    calls = _calls_in_code()
    assert ("sagemaker", "create_hyper_parameter_tuning_job") in calls  # the scan sees the calls
    assert {service for service, _ in calls} == set(botocore_data.OPERATIONS)
    clients = {service: _client(service) for service in botocore_data.OPERATIONS}
    missing = sorted(
        f"{service}.{method}" for service, method in calls if not hasattr(clients[service], method)
    )
    assert not missing, f"add their operations to scripts/botocore_data.py OPERATIONS: {missing}"


def test_the_trimmed_models_are_closed() -> None:
    """Every shape an operation or a shape of a trimmed model refers to is in that model."""
    loader = aws.data_loader()
    for service in botocore_data.OPERATIONS:
        model = loader.load_service_model(service, "service-2")
        shapes = model["shapes"]
        refs = {ref for op in model["operations"].values() for ref in botocore_data._operation_refs(op)}
        for shape in shapes.values():
            refs.update(botocore_data._shape_refs(shape))
        assert refs <= shapes.keys(), (service, sorted(refs - shapes.keys()))


def test_the_functions_load_the_trimmed_models_only() -> None:
    session = aws.new_session()
    assert session.get_component("data_loader").search_paths == [str(aws.DATA_DIR)]
    sagemaker = session.create_client("sagemaker", region_name="us-east-1")
    assert sorted(sagemaker.meta.service_model.operation_names) == sorted(
        botocore_data.OPERATIONS["sagemaker"]
    )
    full = Loader().load_service_model("sagemaker", "service-2")
    assert len(full["operations"]) > 10 * len(botocore_data.OPERATIONS["sagemaker"])
    # a trimmed operation takes the same input as botocore's own
    ours = sagemaker.meta.service_model.operation_model("CreateTrainingJob").input_shape.members
    assert list(ours) == list(
        full["shapes"][full["operations"]["CreateTrainingJob"]["input"]["shape"]]["members"]
    )
    # the endpoints keep every partition, so any region resolves as botocore would
    endpoints = session.get_component("data_loader").load_data("endpoints")
    assert {p["partition"] for p in endpoints["partitions"]} == {
        p["partition"] for p in Loader().load_data("endpoints")["partitions"]
    }
    assert sagemaker.meta.endpoint_url == "https://api.sagemaker.us-east-1.amazonaws.com"


def test_the_instance_type_enums_the_input_checks_are_kept() -> None:
    assert "ml.g4dn.xlarge" in execution_input.sagemaker_enum("TrainingInstanceType")
    assert "ml.m5.large" in execution_input.sagemaker_enum("ProductionVariantInstanceType")


def test_the_files_read_as_botocore_reads_them() -> None:
    """Plain dicts (parsed ~3x faster than botocore's OrderedDicts) with the same content and key
    order as botocore's own JSONFileLoader gives; None for a file that is not there, as botocore."""
    ours, botocores = aws.DictJSONFileLoader(), JSONFileLoader()
    assert isinstance(aws.data_loader().file_loader, aws.DictJSONFileLoader)
    files = sorted(aws.DATA_DIR.rglob("*.json"))
    assert len(files) >= 8
    for path in files:
        stem = str(path.with_suffix(""))
        assert ours.exists(stem)
        data, expected = ours.load_file(stem), botocores.load_file(stem)
        assert type(data) is dict
        assert json.dumps(data) == json.dumps(expected), path  # same keys, values and order
    missing = str(aws.DATA_DIR / "sagemaker" / "no-such-file")
    assert not ours.exists(missing)
    assert ours.load_file(missing) is None
