"""The application's own template.yaml deploys on ``localcloud up``: its functions, state machine and
``POST /predict`` route are registered (nothing is trained here; ``make demo`` and the e2e test run it)."""

from __future__ import annotations

import json
from pathlib import Path

import httpx
import pytest

from support.localcloud_proc import REPO, LocalCloudProcess

pytestmark = pytest.mark.slow

APP_TEMPLATE = REPO / "template.yaml"
HANDLERS = {
    "StartTuningFunction": "pipeline.start_tuning.handler",
    "CheckStatusFunction": "pipeline.check_status.handler",
    "PickBestFunction": "pipeline.pick_best.handler",
    "StartTrainingFunction": "pipeline.start_training.handler",
    "DeployGateFunction": "pipeline.deploy_gate.handler",
    "DeployEndpointFunction": "pipeline.deploy_endpoint.handler",
    "CleanupFunction": "pipeline.cleanup.handler",
    "PredictFunction": "pipeline.predict.handler",
}


@pytest.mark.skipif(not APP_TEMPLATE.exists(), reason="the application's template.yaml is not there yet")
def test_app_template_registers_functions_state_machine_and_predict_route(tmp_path: Path) -> None:
    with LocalCloudProcess(
        tmp_path / "state", template=APP_TEMPLATE, env={"LOCALCLOUD_STACK_NAME": "pipeline"}
    ) as lc:
        stack = json.loads((lc.state_dir / "stacks" / "pipeline.json").read_text())
        outputs = {o["OutputKey"]: o["OutputValue"] for o in stack["Outputs"]}
        lam = lc.client("lambda")
        for logical, handler in HANDLERS.items():
            config = lam.get_function(FunctionName=stack["Resources"][logical]["PhysicalResourceId"])[
                "Configuration"
            ]
            assert config["Handler"] == handler
            assert config["Environment"]["Variables"]["BUCKET_NAME"] == outputs["BucketName"]
        sfn = lc.client("stepfunctions")
        machine = sfn.describe_state_machine(stateMachineArn=outputs["StateMachineArn"])
        definition = machine["definition"]
        assert "${" not in definition  # every DefinitionSubstitution resolved
        for logical in HANDLERS:
            if logical != "PredictFunction":
                assert stack["Resources"][logical]["PhysicalResourceId"] in definition
        assert (
            lc.client("s3").head_bucket(Bucket=outputs["BucketName"])["ResponseMetadata"]["HTTPStatusCode"]
            == 200
        )
        assert outputs["PredictUrl"] == f"{lc.api_url}/predict"
        assert outputs["UploadPageUrl"] == f"{lc.api_url}/"
        page = httpx.get(outputs["UploadPageUrl"], timeout=60)  # GET / is PredictFunction's upload page
        assert page.status_code == 200 and page.headers["content-type"] == "text/html; charset=utf-8"
        assert "default-src 'none'" in page.headers["content-security-policy"]
        assert page.headers["x-correlation-id"]  # the API's request id, also in the function's logs
        garbage = httpx.post(f"{lc.api_url}/predict", content=b"not an image", timeout=60)
        # the route exists and reaches PredictFunction, which rejects garbage bytes with a 4xx JSON error
        assert 400 <= garbage.status_code < 500 and garbage.status_code != 404, garbage.text
        assert garbage.json()["message"]
        assert httpx.get(f"{lc.api_url}/predict").status_code == 404  # the route is POST only
        assert httpx.get(f"{lc.api_url}/nothing").json() == {"message": "Not Found"}
