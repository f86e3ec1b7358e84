"""A model's files on this machine: its artifact (``model.tar.gz`` or an S3 prefix) extracted once
per ModelDataUrl under ``<state>/sagemaker/models/<model>/<digest>/model``, the inference code
folder and program its container Environment names, and clean-up of what no model or endpoint
uses any more.

Relies on locations.py (S3 and file:// downloads) and fleet.py's FleetError (the reason an
endpoint fails with).
"""

from __future__ import annotations

import hashlib
import secrets
import shutil
import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from ..errors import AwsError
from .fleet import FleetError
from .locations import Locations
from .records import Model


@dataclass(frozen=True)
class PreparedModel:
    model_dir: Path
    code_dir: Path
    program: str
    environment: dict[str, str]


class ModelFiles:
    def __init__(self, root: Path, locations: Locations) -> None:
        self.root = root  # <state>/sagemaker/models
        self.locations = locations
        self._lock = threading.Lock()

    def prepare(self, model: Model) -> PreparedModel:
        """The model's artifact extracted once (per ModelDataUrl), its code folder, program and env."""
        container = model.container
        environment = {str(k): str(v) for k, v in (container.get("Environment") or {}).items()}
        source = container.get("ModelDataUrl")
        s3_source = (container.get("ModelDataSource") or {}).get("S3DataSource")
        if s3_source:
            source = s3_source["S3Uri"]
        digest = hashlib.sha256(str(source).encode()).hexdigest()[:16]
        base = self.root / model.name.lower() / digest
        model_dir = base / "model"
        prefix = bool(source and s3_source and s3_source.get("S3DataType") == "S3Prefix")
        self._extract(source, prefix, base, model_dir)
        program = environment.get("SAGEMAKER_PROGRAM") or "inference.py"
        code_dir = self._code_dir(environment.get("SAGEMAKER_SUBMIT_DIRECTORY"), base, model_dir)
        if not (code_dir / program).is_file():
            where = code_dir.relative_to(base) if code_dir.is_relative_to(base) else code_dir
            raise FleetError(
                f"The model artifact has no {program} in {where} "
                "(set SAGEMAKER_PROGRAM / SAGEMAKER_SUBMIT_DIRECTORY, or package code/ in model.tar.gz)"
            )
        return PreparedModel(model_dir, code_dir, program, environment)

    def _extract(self, source: str | None, prefix: bool, base: Path, model_dir: Path) -> None:
        with self._lock:
            if model_dir.is_dir():
                return
            staging = base / f"staging-{secrets.token_hex(4)}"
            try:
                if source and prefix:
                    self.locations.fetch_code(source.rstrip("/") + "/", staging)
                elif source:
                    self.locations.fetch_code(source, staging)
                else:
                    staging.mkdir(parents=True)
            except AwsError as exc:
                shutil.rmtree(staging, ignore_errors=True)
                raise FleetError(f"Failed to download model data from {source}: {exc.message}") from None
            staging.rename(model_dir)

    def _code_dir(self, submit: str | None, base: Path, model_dir: Path) -> Path:
        if not submit or submit.startswith("/opt/ml/model"):
            relative = (submit or "/opt/ml/model/code")[len("/opt/ml/model") :].strip("/")
            return model_dir / relative
        if not submit.startswith(("s3://", "file://")):
            return Path(submit)
        code_dir = base / "code"
        with self._lock:
            if not code_dir.is_dir():
                try:
                    self.locations.fetch_code(submit, code_dir)
                except AwsError as exc:
                    raise FleetError(
                        f"Failed to download the inference code {submit}: {exc.message}"
                    ) from None
        return code_dir

    def forget(self, keep: Callable[[str], bool]) -> None:
        """Remove the extracted files of every model whose key (lower-cased name) ``keep`` refuses."""
        with self._lock:
            for entry in sorted(self.root.iterdir()) if self.root.is_dir() else []:
                if not keep(entry.name):
                    shutil.rmtree(entry, ignore_errors=True)
