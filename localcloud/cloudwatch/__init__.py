"""localcloud's CloudWatch metrics: ListMetrics, GetMetricStatistics, GetMetricData over the metrics
SageMaker training jobs publish and the points other services record (``models.py``,
``recorded.py``, ``responses.py``).

Served in all three protocols botocore's ``cloudwatch`` model lists: RPC-v2 CBOR (botocore's
default: ``POST /service/GraniteServiceVersion20100801/operation/<Op>``), JSON 1.0
(``X-Amz-Target: GraniteServiceVersion20100801.<Op>``) and query (form POST, XML answer); the
edge decodes each into the same parameters. Requests and responses are checked against botocore's
model (``localcloud/validation.py``). The service owns one background thread, started by
``start`` and stopped by ``stop``: it writes the recorded points to the store every
``models.FLUSH_SECONDS`` (``stop`` writes the rest).
"""

from __future__ import annotations

import logging
import threading

from ..service import TableService
from ..store import Store
from .models import FLUSH_SECONDS, MetricSource, TrainingMetrics
from .responses import CloudWatchApi

__all__ = ["CloudWatchService"]

log = logging.getLogger("localcloud.cloudwatch")


class CloudWatchService(TableService):
    model_name = "cloudwatch"
    display_name = "CloudWatch"
    scope = "metrics are read-only locally"
    json_target: str | None = "GraniteServiceVersion20100801"
    json_content_type = "application/x-amz-json-1.0"
    query_service: str | None = "cloudwatch"

    def __init__(
        self, *, store: Store, training: TrainingMetrics | None = None, flush_seconds: float = FLUSH_SECONDS
    ) -> None:
        self.source = MetricSource(store, training)
        self.api = CloudWatchApi(self.source)
        self.flush_seconds = flush_seconds
        self._stopping = threading.Event()
        self._flusher: threading.Thread | None = None

    def record(self, namespace: str, name: str, dimensions: dict[str, str], value: float) -> None:
        """One data point from another localcloud service (SageMaker Runtime's invocation metrics)."""
        self.source.record(namespace, name, dimensions, value)

    def start(self) -> None:
        """Start writing the recorded points to the store, every ``flush_seconds``."""
        if self._flusher is None:
            self._stopping.clear()
            self._flusher = threading.Thread(target=self._flush_loop, name="cloudwatch-flush", daemon=True)
            self._flusher.start()

    def stop(self) -> None:
        """Stop the background writer, then write what it had not written yet."""
        self._stopping.set()
        if self._flusher is not None:
            self._flusher.join()
            self._flusher = None
        self.source.flush()

    def _flush_loop(self) -> None:
        while not self._stopping.wait(self.flush_seconds):
            try:
                self.source.flush()
            except Exception:
                log.exception("writing CloudWatch's recorded points failed (kept for the next try)")
