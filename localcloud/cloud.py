"""The LocalCloud container: one settings object, one store, and every emulated service, wired.

Each service is built with what it uses (keyword arguments: ``settings``, ``store``, the peer
services or narrow callables such as Lambda's Invoke), in dependency order; no service imports
this module. The template deployer gets this container as its :class:`DeployTargets` (the
services that own a template's resources).
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from .apigateway import HttpApiService
from .cloudformation import CloudFormationService
from .cloudwatch import CloudWatchService
from .config import Settings
from .cwlogs import LogsService
from .iam import IamService
from .lambda_ import LambdaService
from .s3 import S3Service
from .sagemaker import SageMakerService
from .service import Service
from .stepfunctions import StepFunctionsService
from .store import Store
from .sts import StsService
from .template import deploy_template

log = logging.getLogger("localcloud")


class LocalCloud:
    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        settings.state_dir.mkdir(parents=True, exist_ok=True)
        self.store = Store(settings.state_dir / "state.db")
        store = self.store
        self.s3 = S3Service(settings=settings, store=store)
        self.sagemaker = SageMakerService(settings=settings, store=store, s3=self.s3)
        self.lambda_ = LambdaService(settings=settings, store=store)
        self.stepfunctions = StepFunctionsService(
            settings=settings, store=store, invoke_lambda=self.lambda_.invoke
        )
        self.apigateway = HttpApiService(
            settings=settings,
            store=store,
            invoke_lambda=self.lambda_.invoke,
            start_lambda=self.lambda_.start_invoke,
        )
        self.cloudformation = CloudFormationService(store=store)
        self.logs = LogsService(settings=settings, stacks=self.cloudformation.stacks.all)
        self.cloudwatch = CloudWatchService(store=store, training=self.sagemaker.training.metrics)
        self.sagemaker.runtime.record_metric = self.cloudwatch.record
        self.sts = StsService(settings=settings)
        self.iam = IamService(settings=settings, stacks=self.cloudformation.stacks.all)
        # The deployed stack record (StackName, Outputs, resources): GET /_localcloud/stack serves it
        # (for a user's tools, e.g. the project's demo); CloudFormation's DescribeStacks reads the
        # stored records.
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
