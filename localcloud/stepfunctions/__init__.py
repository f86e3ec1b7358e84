"""localcloud's Step Functions: the AWS API (``api.py``), the ASL interpreter (``interpreter.py``)
and the execution runner (``executions.py``), with state and history in the localcloud store.

``StepFunctionsService`` answers ``X-Amz-Target: AWSStepFunctions.*`` on the edge, resumes
executions left running by a previous server on ``start()`` and interrupts them on ``stop()``.
``put_state_machine`` is the Python entry point the template deployer uses; ``summary`` reads
executions straight from a store for ``localcloud status``.
"""

from __future__ import annotations

from typing import Any

from ..config import Settings
from ..errors import AwsError
from ..service import BaseService
from ..store import Store
from .api import StepFunctionsApi
from .executions import ExecutionRunner, LambdaInvoker
from .records import EXECUTION_KIND, MACHINE_KIND, Records

__all__ = ["EXECUTION_KIND", "MACHINE_KIND", "StepFunctionsService", "summary"]


class StepFunctionsService(BaseService):
    json_target: str | None = "AWSStepFunctions"
    json_content_type = "application/x-amz-json-1.0"

    def __init__(self, *, settings: Settings, store: Store, invoke_lambda: LambdaInvoker) -> None:
        self.store = store
        self.runner = ExecutionRunner(settings=settings, store=store, invoke_lambda=invoke_lambda)
        self.api = StepFunctionsApi(settings=settings, store=store, runner=self.runner)

    def dispatch(self, operation: str, params: dict[str, Any]) -> dict[str, Any]:
        return self.api.dispatch(operation, params)

    def start(self) -> None:
        self.runner.resume_all()

    def stop(self) -> None:
        self.runner.shutdown()

    def put_state_machine(
        self,
        name: str,
        definition: str,
        role_arn: str,
        machine_type: str = "STANDARD",
        *,
        logging: dict[str, Any] | None = None,
    ) -> str:
        """Create the state machine, or update its definition, role and logging configuration in
        place; returns its ARN."""
        arn = self.api.machine_arn(name)
        logging_config = {"loggingConfiguration": logging} if logging else {}
        if self.api.records.machine(arn) is None:
            return str(
                self.api.create_state_machine(
                    {
                        "name": name,
                        "definition": definition,
                        "roleArn": role_arn,
                        "type": machine_type,
                        **logging_config,
                    }
                )["stateMachineArn"]
            )
        self.api.update_state_machine(
            {"stateMachineArn": arn, "definition": definition, "roleArn": role_arn, **logging_config}
        )
        return arn

    def delete_state_machine(self, arn: str) -> None:
        self.api.delete_state_machine({"stateMachineArn": arn})

    def describe(self, arn: str) -> dict[str, Any] | None:
        try:
            return self.api.describe_state_machine({"stateMachineArn": arn})
        except AwsError:
            return None


def summary(store: Store, limit: int = 20) -> list[dict[str, Any]]:
    """The most recent executions (newest first): name, state machine, status, current state,
    start/stop dates and error. Reads the store only (no server needed)."""
    executions = sorted(Records(store).executions(), key=lambda e: e.start_date, reverse=True)[:limit]
    return [
        {
            "name": e.name,
            "executionArn": e.arn,
            "stateMachine": e.machine_name,
            "status": e.status,
            "currentState": e.current_state,
            "startDate": e.start_date,
            "stopDate": e.stop_date,
            "error": e.error,
            "cause": e.cause,
        }
        for e in executions
    ]
