"""localcloud's CloudWatch metrics, read-only: ListMetrics, GetMetricStatistics, GetMetricData over
the metrics SageMaker training jobs publish (``models.py``, ``responses.py``).

Served in all three protocols botocore's ``cloudwatch`` model lists: RPC-v2 CBOR (botocore's
default: ``POST /service/GraniteServiceVersion20100801/operation/<Op>``), JSON 1.0
(``X-Amz-Target: GraniteServiceVersion20100801.<Op>``) and query (form POST, XML answer); the
edge decodes each into the same parameters. Requests and responses are checked against botocore's
model (``localcloud/validation.py``).
"""

from __future__ import annotations

from ..service import TableService
from ..store import Store
from .models import MetricSource
from .responses import CloudWatchApi

__all__ = ["CloudWatchService"]


class CloudWatchService(TableService):
    model_name = "cloudwatch"
    display_name = "CloudWatch"
    scope = "metrics are read-only locally"
    json_target: str | None = "GraniteServiceVersion20100801"
    json_content_type = "application/x-amz-json-1.0"
    query_service: str | None = "cloudwatch"

    def __init__(self, *, store: Store) -> None:
        self.source = MetricSource(store)
        self.api = CloudWatchApi(self.source)

    def record(self, namespace: str, name: str, dimensions: dict[str, str], value: float) -> None:
        """One data point from another localcloud service (SageMaker Runtime's invocation metrics)."""
        self.source.record(namespace, name, dimensions, value)
