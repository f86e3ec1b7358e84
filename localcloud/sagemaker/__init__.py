"""localcloud's SageMaker: training, tuning and hosting run for real as local processes.

- ``api.py`` + ``shapes.py``: the wire layer. The JSON protocol (X-Amz-Target ``SageMaker.*``),
  validation first; requests become calls on the modules below, records become AWS's answers.
- ``records.py``: the typed records (training jobs, tuning jobs and trials, models, endpoint
  configs, endpoints) and their stored form.
- ``training.py`` / ``training_run.py``: training jobs (script mode, ``script_mode.py``).
- ``tuning.py`` (CRUD) / ``tuner.py`` (the Optuna-driven thread) / ``tuning_results.py``, with
  ``tuning_plan.py``, ``search_space.py``, ``early_stopping.py``.
- ``hosting.py`` (models, endpoint configs, endpoints) / ``deployments.py`` (the fleets' lifecycle)
  / ``model_files.py`` / ``fleet.py`` / ``model_server.py``.
- ``runtime.py``: SageMaker Runtime's InvokeEndpoint route on the edge.

:class:`SageMakerService` is built with what it uses: the settings, the store and S3 (for
training data, artifacts and the ``endpoints`` bucket's paths).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from starlette.routing import BaseRoute

from ..config import Settings
from ..service import BaseService
from ..store import Store
from . import common
from .api import dispatch, handlers
from .deployments import Fleet
from .hosting import Hosting
from .locations import Locations
from .model_files import ModelFiles
from .processes import GpuPool
from .records import HostingRecords
from .runtime import InvokeEndpoint
from .tags import Tags
from .training import TrainingJobs
from .tuning import TuningJobs

if TYPE_CHECKING:
    from ..s3 import S3Service


class SageMakerService(BaseService):
    json_target: str | None = "SageMaker"
    json_content_type = "application/x-amz-json-1.1"

    def __init__(self, *, settings: Settings, store: Store, s3: S3Service) -> None:
        self.settings = settings
        self.locations = Locations(s3)
        gpu_pool = GpuPool()  # training jobs and model servers share this machine's GPUs
        self.training = TrainingJobs(
            settings=settings, store=store, locations=self.locations, gpu_pool=gpu_pool
        )
        self.tuning = TuningJobs(settings=settings, store=store, training=self.training)
        model_files = ModelFiles(settings.state_dir / "sagemaker" / "models", self.locations)
        records = HostingRecords.of(store)
        self.fleet = Fleet(settings=settings, records=records, gpu_pool=gpu_pool, model_files=model_files)
        self.hosting = Hosting(settings=settings, records=records, fleet=self.fleet, model_files=model_files)
        self.tags = Tags(
            {
                common.TRAINING_JOB: self.training.records,
                common.TUNING_JOB: self.tuning.records,
                common.MODEL: self.hosting.models,
                common.ENDPOINT_CONFIG: self.hosting.configs,
                common.ENDPOINT: self.hosting.endpoints,
            }
        )
        self.runtime = InvokeEndpoint(settings=settings, fleet=self.fleet, s3_handle=s3.protocol.handle)
        self._handlers = handlers(self)

    def dispatch(self, operation: str, params: dict[str, Any]) -> dict[str, Any]:
        return dispatch(self._handlers, operation, params)

    def routes(self) -> list[BaseRoute]:
        return self.runtime.routes()

    def start(self) -> None:
        """Resume or fail interrupted training jobs, carry on tuning jobs, bring endpoints back."""
        self.training.start()
        self.tuning.start()
        self.fleet.start()

    def stop(self) -> None:
        self.fleet.stop()
        self.tuning.stop_all()
        self.training.stop_all()
