"""Hosting: Models, EndpointConfigs and Endpoints, with real model-server processes behind endpoints.

- Create/Describe/Delete/List Model and EndpointConfig are documents (SageMaker allows deleting
  them while an endpoint uses them; so does this).
- CreateEndpoint starts, per production variant, InitialInstanceCount model servers
  (:mod:`fleet`) on the model's extracted ``model.tar.gz`` with its ``code/`` on sys.path and the
  container Environment; the endpoint is InService once every server answers ``/ping``, Failed
  with the server's own error otherwise.
- UpdateEndpoint is blue/green: the new fleet starts and must pass ``/ping``, routing switches
  atomically, the old fleet is drained (requests in flight finish) and stopped. With no
  CloudWatch alarms to roll back on, the old fleet is not kept for TerminationWaitInSeconds.
  A failed update leaves the old fleet serving, InService, with the FailureReason.
- A crashed server is replaced (as SageMaker replaces unhealthy instances). After a localcloud
  restart every endpoint comes back on its current config (and a pending update carries on).

Relies on fleet.py, locations.py and processes.py.
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import os
import secrets
import shutil
import threading
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..errors import AwsError, not_supported
from ..logs import log_path
from ..store import Doc
from . import common, defaults
from .fleet import FleetError, Instance, Router, Table, Variant, start_server, stop_instances, wait_ready
from .locations import Locations, check_uri
from .processes import GpuPool, instance_gpus, stop_groups

if TYPE_CHECKING:
    from ..cloud import LocalCloud

log = logging.getLogger("localcloud.sagemaker.hosting")

DEFAULT_STARTUP_TIMEOUT = 600
DRAIN_TIMEOUT = 90.0
_CONTAINER_FIELDS = {
    "ContainerHostname",
    "Image",
    "ImageConfig",
    "Mode",
    "ModelDataUrl",
    "ModelDataSource",
    "Environment",
}
_MODEL_FIELDS = {
    "ModelName",
    "PrimaryContainer",
    "Containers",
    "InferenceExecutionConfig",
    "ExecutionRoleArn",
    "Tags",
    "VpcConfig",
    "EnableNetworkIsolation",
}
_CONFIG_FIELDS = {
    "EndpointConfigName",
    "ProductionVariants",
    "Tags",
    "KmsKeyId",
    "ExecutionRoleArn",
    "VpcConfig",
    "EnableNetworkIsolation",
}
_VARIANT_FIELDS = {
    "VariantName",
    "ModelName",
    "InitialInstanceCount",
    "InstanceType",
    "InitialVariantWeight",
    "ServerlessConfig",
    "VolumeSizeInGB",
    "ModelDataDownloadTimeoutInSeconds",
    "ContainerStartupHealthCheckTimeoutInSeconds",
    "EnableSSMAccess",
    "RoutingConfig",
}
_ENDPOINT_FIELDS = {"EndpointName", "EndpointConfigName", "DeploymentConfig", "Tags"}
_UPDATE_FIELDS = {
    "EndpointName",
    "EndpointConfigName",
    "RetainAllVariantProperties",
    "DeploymentConfig",
    "RetainDeploymentConfig",
    "ExcludeRetainedVariantProperties",
}


def _fields(params: dict[str, Any], allowed: set[str], where: str = "") -> None:
    for name in params:
        if name not in allowed:
            raise not_supported(f"{where}{name}")


class Hosting:
    def __init__(self, cloud: LocalCloud, locations: Locations, gpu_pool: GpuPool) -> None:
        self.cloud = cloud
        self.store = cloud.store
        self.locations = locations
        self.gpu_pool = gpu_pool
        self.root = cloud.settings.state_dir / "sagemaker"
        self.routers: dict[str, Router] = {}
        self._deployments: dict[str, threading.Thread] = {}
        self._cancel: dict[str, threading.Event] = {}
        self._lock = threading.RLock()
        self._model_lock = threading.Lock()
        self._stopping = threading.Event()
        self._monitor: threading.Thread | None = None
        self.loop: Any = None  # the edge's event loop (set by runtime.py): pools are closed on it

    def arn(self, kind: str, name: str) -> str:
        return self.cloud.settings.arn("sagemaker", f"{common.ARN_TYPES[kind]}/{name.lower()}")

    # ------------------------------------------------------------------ models
    def create_model(self, params: dict[str, Any]) -> dict[str, str]:
        _fields(params, _MODEL_FIELDS)
        containers = params.get("Containers") or []
        if params.get("PrimaryContainer") and containers:
            raise common.validation("Specify either PrimaryContainer or Containers, not both")
        if len(containers) > 1:
            raise not_supported("Containers with more than one container (inference pipelines)")
        container = params.get("PrimaryContainer") or (containers[0] if containers else None)
        if container is None:
            raise common.validation("PrimaryContainer is required")
        _fields(container, _CONTAINER_FIELDS, "PrimaryContainer.")
        if container.get("Mode", "SingleModel") != "SingleModel":
            raise not_supported(f"Container Mode {container['Mode']}")
        if container.get("ModelDataUrl"):
            check_uri(container["ModelDataUrl"], "ModelDataUrl")
        source = (container.get("ModelDataSource") or {}).get("S3DataSource")
        if source:
            check_uri(source["S3Uri"], "ModelDataSource.S3DataSource.S3Uri")
        name = params["ModelName"]
        arn = self.arn(common.MODEL, name)
        doc = {k: v for k, v in params.items() if k != "Tags"}
        doc.update({"ModelArn": arn, "CreationTime": common.now(), "_tags": params.get("Tags") or []})
        doc.setdefault("EnableNetworkIsolation", False)
        if not self.store.create(common.MODEL, common.key(name), doc):
            raise common.validation(f'Cannot create already existing model "{arn}".')
        return {"ModelArn": arn}

    def model(self, name: str) -> Doc:
        doc = self.store.get(common.MODEL, common.key(name))
        if doc is None:
            raise common.validation(f'Could not find model "{self.arn(common.MODEL, name)}".')
        return doc

    def describe_model(self, name: str) -> Doc:
        doc = common.public(self.model(name))
        if doc.get("PrimaryContainer"):
            doc["PrimaryContainer"] = defaults.model_container(doc["PrimaryContainer"])
        if doc.get("Containers"):
            doc["Containers"] = [defaults.model_container(c) for c in doc["Containers"]]
        return doc

    def delete_model(self, name: str) -> None:
        self.model(name)
        self.store.delete(common.MODEL, common.key(name))
        self._forget_extracted()

    def _forget_extracted(self) -> None:
        """Remove what localcloud extracted for models that are deleted and no endpoint still serves.

        A model deleted while an endpoint runs on it keeps its files until that endpoint is deleted
        (SageMaker lets an endpoint outlive its model); DeleteEndpoint calls this again.
        """
        in_use: set[str] = set()
        for endpoint in self.store.list(common.ENDPOINT):
            for config_name in (endpoint.get("EndpointConfigName"), endpoint.get("_pending_config")):
                config = (
                    self.store.get(common.ENDPOINT_CONFIG, common.key(config_name)) if config_name else None
                )
                for spec in (config or {}).get("ProductionVariants") or []:
                    in_use.add(common.key(spec["ModelName"]))
        folder = self.root / "models"
        with self._model_lock:
            for entry in sorted(folder.iterdir()) if folder.is_dir() else []:
                key = entry.name
                if key in in_use or self.store.get(common.MODEL, key) is not None:
                    continue
                shutil.rmtree(entry, ignore_errors=True)

    def list_models(self, params: dict[str, Any]) -> dict[str, Any]:
        docs = common.list_filters(self.store.list(common.MODEL), params, name_field="ModelName")
        page, token = common.paginate(
            docs,
            params,
            sort_fields={"Name": lambda d: d["ModelName"], "CreationTime": lambda d: d["CreationTime"]},
            default_sort="CreationTime",
            default_order="Descending",
        )
        out: dict[str, Any] = {
            "Models": [{k: d[k] for k in ("ModelName", "ModelArn", "CreationTime")} for d in page]
        }
        if token:
            out["NextToken"] = token
        return out

    # ------------------------------------------------------------------ endpoint configs
    def create_endpoint_config(self, params: dict[str, Any]) -> dict[str, str]:
        _fields(params, _CONFIG_FIELDS)
        names = set()
        for variant in params["ProductionVariants"]:
            _fields(variant, _VARIANT_FIELDS, "ProductionVariants.")
            if variant["VariantName"] in names:
                raise common.validation(
                    f"Variant names must be unique; {variant['VariantName']} appears twice"
                )
            names.add(variant["VariantName"])
            if variant.get("ServerlessConfig") is None and (
                not variant.get("InstanceType") or not variant.get("InitialInstanceCount")
            ):
                raise common.validation(
                    f"Variant {variant['VariantName']}: InstanceType and "
                    "InitialInstanceCount are required unless ServerlessConfig is set"
                )
        name = params["EndpointConfigName"]
        arn = self.arn(common.ENDPOINT_CONFIG, name)
        doc = {k: v for k, v in params.items() if k != "Tags"}
        doc["ProductionVariants"] = [{"InitialVariantWeight": 1.0, **v} for v in params["ProductionVariants"]]
        doc.update(
            {"EndpointConfigArn": arn, "CreationTime": common.now(), "_tags": params.get("Tags") or []}
        )
        if not self.store.create(common.ENDPOINT_CONFIG, common.key(name), doc):
            raise common.validation(f'Cannot create already existing endpoint configuration "{arn}".')
        return {"EndpointConfigArn": arn}

    def endpoint_config(self, name: str) -> Doc:
        doc = self.store.get(common.ENDPOINT_CONFIG, common.key(name))
        if doc is None:
            raise common.validation(
                f'Could not find endpoint configuration "{self.arn(common.ENDPOINT_CONFIG, name)}".'
            )
        return doc

    def describe_endpoint_config(self, name: str) -> Doc:
        return common.public(self.endpoint_config(name))

    def delete_endpoint_config(self, name: str) -> None:
        self.endpoint_config(name)
        self.store.delete(common.ENDPOINT_CONFIG, common.key(name))

    def list_endpoint_configs(self, params: dict[str, Any]) -> dict[str, Any]:
        docs = common.list_filters(
            self.store.list(common.ENDPOINT_CONFIG), params, name_field="EndpointConfigName"
        )
        page, token = common.paginate(
            docs,
            params,
            sort_fields={
                "Name": lambda d: d["EndpointConfigName"],
                "CreationTime": lambda d: d["CreationTime"],
            },
            default_sort="CreationTime",
            default_order="Descending",
        )
        out: dict[str, Any] = {
            "EndpointConfigs": [
                {k: d[k] for k in ("EndpointConfigName", "EndpointConfigArn", "CreationTime")} for d in page
            ]
        }
        if token:
            out["NextToken"] = token
        return out

    # ------------------------------------------------------------------ endpoints
    def create_endpoint(self, params: dict[str, Any]) -> dict[str, str]:
        _fields(params, _ENDPOINT_FIELDS)
        config = self.endpoint_config(params["EndpointConfigName"])
        for variant in config["ProductionVariants"]:
            self.model(variant["ModelName"])
        name = params["EndpointName"]
        arn = self.arn(common.ENDPOINT, name)
        ts = common.now()
        doc: Doc = {
            "EndpointName": name,
            "EndpointArn": arn,
            "EndpointConfigName": config["EndpointConfigName"],
            "EndpointStatus": "Creating",
            "CreationTime": ts,
            "LastModifiedTime": ts,
            "ProductionVariants": self._variant_summaries(config, live=0),
            "_tags": params.get("Tags") or [],
            "_servers": [],
        }
        if params.get("DeploymentConfig"):
            doc["LastDeploymentConfig"] = params["DeploymentConfig"]
        if not self.store.create(common.ENDPOINT, common.key(name), doc):
            raise common.validation(f'Cannot create already existing endpoint "{arn}".')
        self._deploy(name, config["EndpointConfigName"], update=False)
        return {"EndpointArn": arn}

    def endpoint(self, name: str) -> Doc:
        doc = self.store.get(common.ENDPOINT, common.key(name))
        if doc is None:
            raise common.validation(f'Could not find endpoint "{self.arn(common.ENDPOINT, name)}".')
        return doc

    def describe_endpoint(self, name: str) -> Doc:
        return common.public(self.endpoint(name))

    def update_endpoint(self, params: dict[str, Any]) -> dict[str, str]:
        _fields(params, _UPDATE_FIELDS)
        if params.get("RetainAllVariantProperties") or params.get("ExcludeRetainedVariantProperties"):
            raise not_supported(
                "RetainAllVariantProperties=true (the new config's variant properties are used)"
            )
        doc = self.endpoint(params["EndpointName"])
        config = self.endpoint_config(params["EndpointConfigName"])
        for variant in config["ProductionVariants"]:
            self.model(variant["ModelName"])
        if doc["EndpointStatus"] != "InService":
            raise common.validation(f'Cannot update in-progress endpoint "{doc["EndpointArn"]}".')

        def updating(d: Doc) -> None:
            d["EndpointStatus"] = "Updating"
            d["LastModifiedTime"] = common.now()
            d["_pending_config"] = config["EndpointConfigName"]
            d.pop("FailureReason", None)
            if params.get("DeploymentConfig"):
                d["LastDeploymentConfig"] = params["DeploymentConfig"]

        self.store.update(common.ENDPOINT, common.key(doc["EndpointName"]), updating)
        self._deploy(doc["EndpointName"], config["EndpointConfigName"], update=True)
        return {"EndpointArn": doc["EndpointArn"]}

    def delete_endpoint(self, name: str) -> None:
        doc = self.endpoint(name)
        key = common.key(name)
        with self._lock:
            cancel = self._cancel.get(key)
            if cancel is not None:
                cancel.set()
            router = self.routers.pop(key, None)
        if router is not None:
            old = router.switch(None)
            if old is not None:
                self._stop(old.instances)
        stop_groups(doc.get("_servers") or [], grace=5)
        self.store.delete(common.ENDPOINT, key)
        self._forget_extracted()

    def list_endpoints(self, params: dict[str, Any]) -> dict[str, Any]:
        docs = common.list_filters(self.store.list(common.ENDPOINT), params, name_field="EndpointName")
        if params.get("StatusEquals"):
            docs = [d for d in docs if d["EndpointStatus"] == params["StatusEquals"]]
        page, token = common.paginate(
            docs,
            params,
            sort_fields={
                "Name": lambda d: d["EndpointName"],
                "CreationTime": lambda d: d["CreationTime"],
                "Status": lambda d: d["EndpointStatus"],
            },
            default_sort="CreationTime",
            default_order="Descending",
        )
        fields = ("EndpointName", "EndpointArn", "CreationTime", "LastModifiedTime", "EndpointStatus")
        out: dict[str, Any] = {"Endpoints": [{k: d[k] for k in fields} for d in page]}
        if token:
            out["NextToken"] = token
        return out

    # ------------------------------------------------------------------ deployments
    def _deploy(self, name: str, config_name: str, *, update: bool) -> threading.Thread:
        key = common.key(name)
        cancel = threading.Event()
        thread = threading.Thread(
            target=self._deployment,
            args=(name, config_name, update, cancel),
            name=f"endpoint-{name}",
            daemon=True,
        )
        with self._lock:
            self._cancel[key] = cancel
            self._deployments[key] = thread
            self.routers.setdefault(key, Router())
        thread.start()
        return thread

    def _deployment(self, name: str, config_name: str, update: bool, cancel: threading.Event) -> None:
        key = common.key(name)
        try:
            table = self._start_fleet(name, config_name, cancel)
        except FleetError as exc:
            if cancel.is_set():
                return
            reason = str(exc)[:1024]
            log.warning("endpoint %s: deployment of %s failed: %s", name, config_name, reason)
            if update:
                self._set(key, EndpointStatus="InService", FailureReason=reason, _pending_config=None)
            else:
                self._set(key, EndpointStatus="Failed", FailureReason=reason)
            return
        except Exception as exc:
            log.exception("endpoint %s: deployment failed in localcloud", name)
            self._set(
                key,
                EndpointStatus="InService" if update else "Failed",
                FailureReason=f"InternalServerError: localcloud could not deploy: {exc}",
            )
            return
        with self._lock:
            router = self.routers.get(key)
        if router is None or cancel.is_set():  # deleted meanwhile
            self._stop(table.instances)
            return
        old = router.switch(table)
        config = self.store.get(common.ENDPOINT_CONFIG, common.key(config_name)) or {"ProductionVariants": []}
        self._set(
            key,
            EndpointStatus="InService",
            EndpointConfigName=config_name,
            _pending_config=None,
            ProductionVariants=self._variant_summaries(config, live=None, table=table),
            _servers=[i.ident for i in table.instances],
        )
        log.info("endpoint %s: InService on %s (%d server(s))", name, config_name, len(table.instances))
        if old is not None:
            router.drain(old.instances, DRAIN_TIMEOUT)
            self._stop(old.instances)

    def _start_fleet(self, name: str, config_name: str, cancel: threading.Event) -> Table:
        config = self.endpoint_config(config_name)
        started: list[Instance] = []
        try:
            variants = []
            for spec in config["ProductionVariants"]:
                instances = []
                count = 1 if spec.get("ServerlessConfig") else int(spec["InitialInstanceCount"])
                for _ in range(count):
                    instance = self._start_instance(name, spec)
                    started.append(instance)
                    instances.append(instance)
                variants.append(
                    Variant(
                        spec["VariantName"], float(spec.get("InitialVariantWeight", 1.0)), tuple(instances)
                    )
                )
            for spec, variant in zip(config["ProductionVariants"], variants, strict=True):
                timeout = float(
                    spec.get("ContainerStartupHealthCheckTimeoutInSeconds") or DEFAULT_STARTUP_TIMEOUT
                )
                for instance in variant.instances:
                    wait_ready(instance, timeout, cancel)
            return Table(config_name, tuple(variants))
        except BaseException:
            self._stop(started)
            raise

    def _start_instance(self, endpoint: str, spec: Doc) -> Instance:
        model = self.model(spec["ModelName"])
        model_dir, code_dir, program, environment = self._prepare_model(model)
        env = dict(os.environ)
        env.update(self.cloud.settings.child_env())
        env.update(environment)
        gpus = self.gpu_pool.acquire(instance_gpus(spec.get("InstanceType") or ""))
        instance_id = f"i-{secrets.token_hex(8)}"
        log_file = log_path(
            self.cloud.settings.state_dir,
            f"/aws/sagemaker/Endpoints/{endpoint}",
            f"{spec['VariantName']}-{instance_id}",
        )
        return start_server(
            model_dir=model_dir,
            code_dir=code_dir,
            program=program,
            env=env,
            log=log_file,
            variant=spec["VariantName"],
            instance_id=instance_id,
            gpus=gpus,
            model=spec["ModelName"],
        )

    def _prepare_model(self, model: Doc) -> tuple[Path, Path, str, dict[str, str]]:
        """The model's artifact extracted once (per ModelDataUrl), its code folder, program and env."""
        container = model.get("PrimaryContainer") or model["Containers"][0]
        environment = {str(k): str(v) for k, v in (container.get("Environment") or {}).items()}
        source = container.get("ModelDataUrl")
        s3_source = (container.get("ModelDataSource") or {}).get("S3DataSource")
        if s3_source:
            source = s3_source["S3Uri"]
        digest = hashlib.sha256(str(source).encode()).hexdigest()[:16]
        base = self.root / "models" / common.key(model["ModelName"]) / digest
        model_dir = base / "model"
        with self._model_lock:
            if not model_dir.is_dir():
                staging = base / f"staging-{secrets.token_hex(4)}"
                try:
                    if source and s3_source and s3_source.get("S3DataType") == "S3Prefix":
                        self.locations.fetch_code(source.rstrip("/") + "/", staging)
                    elif source:
                        self.locations.fetch_code(source, staging)
                    else:
                        staging.mkdir(parents=True)
                except AwsError as exc:
                    shutil.rmtree(staging, ignore_errors=True)
                    raise FleetError(f"Failed to download model data from {source}: {exc.message}") from None
                staging.rename(model_dir)
        program = environment.get("SAGEMAKER_PROGRAM") or "inference.py"
        submit = environment.get("SAGEMAKER_SUBMIT_DIRECTORY")
        if not submit or submit.startswith("/opt/ml/model"):
            relative = (submit or "/opt/ml/model/code")[len("/opt/ml/model") :].strip("/")
            code_dir = model_dir / relative
        elif submit.startswith(("s3://", "file://")):
            code_dir = base / "code"
            with self._model_lock:
                if not code_dir.is_dir():
                    try:
                        self.locations.fetch_code(submit, code_dir)
                    except AwsError as exc:
                        raise FleetError(
                            f"Failed to download the inference code {submit}: {exc.message}"
                        ) from None
        else:
            code_dir = Path(submit)
        if not (code_dir / program).is_file():
            where = code_dir.relative_to(base) if code_dir.is_relative_to(base) else code_dir
            raise FleetError(
                f"The model artifact has no {program} in {where} "
                "(set SAGEMAKER_PROGRAM / SAGEMAKER_SUBMIT_DIRECTORY, or package code/ in model.tar.gz)"
            )
        return model_dir, code_dir, program, environment

    def _variant_summaries(self, config: Doc, *, live: int | None, table: Table | None = None) -> list[Doc]:
        summaries = []
        for spec in config["ProductionVariants"]:
            model = self.store.get(common.MODEL, common.key(spec["ModelName"])) or {}
            container = model.get("PrimaryContainer") or (model.get("Containers") or [{}])[0]
            desired = 1 if spec.get("ServerlessConfig") else int(spec.get("InitialInstanceCount") or 1)
            if table is not None:
                count = sum(len(v.instances) for v in table.variants if v.name == spec["VariantName"])
            else:
                count = live or 0
            summary: Doc = {
                "VariantName": spec["VariantName"],
                "DeployedImages": [
                    {
                        "SpecifiedImage": container.get("Image", ""),
                        "ResolvedImage": container.get("Image", ""),
                        "ResolutionTime": common.now(),
                    }
                ],
                "CurrentWeight": float(spec.get("InitialVariantWeight", 1.0)),
                "DesiredWeight": float(spec.get("InitialVariantWeight", 1.0)),
                "CurrentInstanceCount": count,
                "DesiredInstanceCount": desired,
            }
            summaries.append(summary)
        return summaries

    def _set(self, key: str, **fields: Any) -> None:
        def change(doc: Doc) -> None:
            for name, value in fields.items():
                if value is None:
                    doc.pop(name, None)
                else:
                    doc[name] = value
            doc["LastModifiedTime"] = common.now()

        with contextlib.suppress(KeyError):  # deleted meanwhile
            self.store.update(common.ENDPOINT, key, change)

    def _stop(self, instances: list[Instance]) -> None:
        if not instances:
            return
        stop_instances(instances)
        for instance in instances:
            self.gpu_pool.release(instance.gpus)
            if self.loop is not None:
                with contextlib.suppress(RuntimeError):  # the loop is closed: nothing to close on it
                    self.loop.call_soon_threadsafe(instance.pool.close)

    # ------------------------------------------------------------------ lifecycle
    def start(self, wait: float = 300.0) -> None:
        """Bring every endpoint back (old server processes are stopped first) and wait for them.

        An endpoint comes back on its current config (Failed if that no longer starts); an update
        that was under way when localcloud stopped is then carried on, blue/green as before.
        """
        threads = []
        pending: dict[str, str] = {}
        for doc in self.store.list(common.ENDPOINT):
            stop_groups(doc.get("_servers") or [], grace=5)
            if doc["EndpointStatus"] in ("InService", "Updating", "SystemUpdating", "Creating"):
                if doc.get("_pending_config"):
                    pending[doc["EndpointName"]] = doc["_pending_config"]
                threads.append(self._deploy(doc["EndpointName"], doc["EndpointConfigName"], update=False))
        deadline = time.monotonic() + wait
        for thread in threads:
            thread.join(max(0.0, deadline - time.monotonic()))
        for name, config_name in pending.items():
            current = self.store.get(common.ENDPOINT, common.key(name))
            if current is not None and current["EndpointStatus"] == "InService":
                self._set(common.key(name), EndpointStatus="Updating", _pending_config=config_name)
                self._deploy(name, config_name, update=True)
        self._monitor = threading.Thread(target=self._watch, name="endpoint-monitor", daemon=True)
        self._monitor.start()

    def stop(self) -> None:
        self._stopping.set()
        with self._lock:
            for cancel in self._cancel.values():
                cancel.set()
            routers = list(self.routers.values())
        instances = []
        for router in routers:
            old = router.switch(None)
            if old is not None:
                instances.extend(old.instances)
        stop_instances(instances, grace=5)

    def _watch(self) -> None:
        """Replace model servers that died while serving (SageMaker replaces unhealthy instances)."""
        while not self._stopping.wait(1.0):
            with self._lock:
                items = list(self.routers.items())
            for key, router in items:
                table = router.table
                for instance in table.instances if table else []:
                    if instance.process.poll() is not None and not self._stopping.is_set():
                        self._replace(key, router, instance)

    def _replace(self, key: str, router: Router, dead: Instance) -> None:
        doc = self.store.get(common.ENDPOINT, key)
        config = (
            self.store.get(common.ENDPOINT_CONFIG, common.key(doc["EndpointConfigName"])) if doc else None
        )
        spec = next(
            (v for v in (config or {}).get("ProductionVariants", []) if v["VariantName"] == dead.variant),
            None,
        )
        if doc is None or spec is None:
            return
        log.warning(
            "endpoint %s: model server %s exited with %s; replacing it",
            doc["EndpointName"],
            dead.instance_id,
            dead.process.returncode,
        )
        try:
            fresh = self._start_instance(doc["EndpointName"], spec)
            wait_ready(
                fresh,
                float(spec.get("ContainerStartupHealthCheckTimeoutInSeconds") or DEFAULT_STARTUP_TIMEOUT),
            )
        except (FleetError, AwsError) as exc:
            log.error("endpoint %s: replacement failed: %s", doc["EndpointName"], exc)
            router.replace(dead, dead)
            time.sleep(5)
            return
        if not router.replace(dead, fresh):
            self._stop([fresh])
            return
        self.gpu_pool.release(dead.gpus)
        self._set(key, _servers=[i.ident for i in router.table.instances] if router.table else [])
