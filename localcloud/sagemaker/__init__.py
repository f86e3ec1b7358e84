"""localcloud's SageMaker: training, tuning and hosting run for real as local processes.

- ``api.py``: the JSON protocol (X-Amz-Target ``SageMaker.*``), validation first.
- ``training.py`` / ``training_run.py``: training jobs (script mode, ``script_mode.py``).
- ``tuning.py``: Optuna-driven hyperparameter tuning (``tuning_plan.py``, ``search_space.py``,
  ``early_stopping.py``).
- ``hosting.py`` / ``fleet.py`` / ``model_server.py``: models, endpoint configs, endpoints.
- ``runtime.py``: SageMaker Runtime's InvokeEndpoint route on the edge.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from starlette.routing import BaseRoute

from ..service import BaseService
from .api import dispatch, handlers
from .hosting import Hosting
from .locations import Locations
from .runtime import InvokeEndpoint
from .tags import Tags
from .training import TrainingJobs
from .tuning import TuningJobs

if TYPE_CHECKING:
    from ..cloud import LocalCloud


class SageMakerService(BaseService):
    json_target: str | None = "SageMaker"
    json_content_type = "application/x-amz-json-1.1"

    def __init__(self, cloud: LocalCloud) -> None:
        self.locations = Locations(cloud.s3)
        self.training = TrainingJobs(cloud, self.locations)
        self.tuning = TuningJobs(cloud, self.training)
        self.hosting = Hosting(cloud, self.locations, self.training.gpu_pool)
        self.tags = Tags(cloud.store)
        self.runtime = InvokeEndpoint(cloud, self.hosting)
        self._handlers = handlers(self)

    def dispatch(self, operation: str, params: dict[str, Any]) -> dict[str, Any]:
        return dispatch(self._handlers, operation, params)

    def routes(self) -> list[BaseRoute]:
        return self.runtime.routes()

    def start(self) -> None:
        """Resume or fail interrupted training jobs, carry on tuning jobs, bring endpoints back."""
        self.training.start()
        self.tuning.start()
        self.hosting.start()

    def stop(self) -> None:
        self.hosting.stop()
        self.tuning.stop_all()
        self.training.stop_all()
