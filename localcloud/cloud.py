"""The LocalCloud container: one settings object, one store, and every emulated service.

Services are built in dependency order and reach each other through this object at call time
(``cloud.s3``, ``cloud.lambda_`` ...), never at import time, so each stays a separate package.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .config import Settings
from .store import Store

if TYPE_CHECKING:
    from .apigateway import HttpApiService
    from .cloudformation import CloudFormationService
    from .cloudwatch import CloudWatchService
    from .cwlogs import LogsService
    from .iam import IamService
    from .lambda_ import LambdaService
    from .s3 import S3Service
    from .sagemaker import SageMakerService
    from .service import Service
    from .stepfunctions import StepFunctionsService
    from .sts import StsService

log = logging.getLogger("localcloud")


class LocalCloud:
    def __init__(self, settings: Settings) -> None:
        from .apigateway import HttpApiService
        from .cloudformation import CloudFormationService
        from .cloudwatch import CloudWatchService
        from .cwlogs import LogsService
        from .iam import IamService
        from .lambda_ import LambdaService
        from .s3 import S3Service
        from .sagemaker import SageMakerService
        from .stepfunctions import StepFunctionsService
        from .sts import StsService

        self.settings = settings
        settings.state_dir.mkdir(parents=True, exist_ok=True)
        self.store = Store(settings.state_dir / "state.db")
        self.s3: S3Service = S3Service(self)
        self.sagemaker: SageMakerService = SageMakerService(settings=settings, store=self.store, s3=self.s3)
        self.lambda_: LambdaService = LambdaService(self)
        self.stepfunctions: StepFunctionsService = StepFunctionsService(self)
        self.apigateway: HttpApiService = HttpApiService(self)
        self.logs: LogsService = LogsService(self)
        self.cloudwatch: CloudWatchService = CloudWatchService(self)
        self.sagemaker.runtime.record_metric = self.cloudwatch.record
        self.sts: StsService = StsService(self)
        self.iam: IamService = IamService(self)
        self.cloudformation: CloudFormationService = CloudFormationService(self)
        # The deployed stack record (StackName, Outputs, resources): GET /_localcloud/stack serves it
        # (for `localcloud demo`); CloudFormation's DescribeStacks reads the stored records.
        self.stack: dict[str, Any] = {}

    @property
    def services(self) -> list[Service]:
        return [
            self.s3,
            self.sagemaker,
            self.lambda_,
            self.stepfunctions,
            self.apigateway,
            self.logs,
            self.cloudwatch,
            self.sts,
            self.iam,
            self.cloudformation,
        ]

    def start(self) -> None:
        """Deploy the template, then reconcile persisted state (resume jobs, endpoints, executions).

        The template goes first so that resumed executions find their (possibly updated) functions.
        """
        if self.settings.template is not None:
            from .template import deploy_template

            self.stack = deploy_template(self, Path(self.settings.template))
        for service in self.services:
            service.start()

    def stop(self) -> None:
        """Stop every child process (training jobs, model servers, Lambda workers)."""
        for service in reversed(self.services):
            try:
                service.stop()
            except Exception:
                log.exception("stopping %s failed", type(service).__name__)
        self.store.close()
