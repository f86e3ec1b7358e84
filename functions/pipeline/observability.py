"""Powertools logging and metrics set up the same way in every function.

Logger and Metrics read POWERTOOLS_SERVICE_NAME / POWERTOOLS_METRICS_NAMESPACE (template.yaml's
Globals); the namespace falls back to the app's so a module imported outside Lambda (tests,
tools) still emits well-formed EMF. Tracing is left to Lambda's active tracing (template.yaml):
powertools' Tracer would need aws-xray-sdk, which is not in the Lambda runtime.
"""

from __future__ import annotations

import os

from aws_lambda_powertools import Logger, Metrics

DEFAULT_NAMESPACE = "ImageClassifierPipeline"


def make_logger() -> Logger:
    return Logger()


def make_metrics() -> Metrics:
    return Metrics(namespace=os.environ.get("POWERTOOLS_METRICS_NAMESPACE", DEFAULT_NAMESPACE))
