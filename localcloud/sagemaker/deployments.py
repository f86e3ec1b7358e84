"""The endpoints' fleets: starting, health-checking, replacing and stopping model servers.

- A deployment (CreateEndpoint, UpdateEndpoint, a restart) starts, per production variant,
  InitialInstanceCount model servers (:mod:`fleet`) on the model's extracted artifact
  (:mod:`model_files`) with the container Environment; the endpoint is InService once every
  server answers ``/ping``, Failed with the server's own error otherwise.
- UpdateEndpoint is blue/green: the new fleet starts and must pass ``/ping``, routing switches
  atomically, the old fleet is drained (requests in flight finish) and stopped. With no
  CloudWatch alarms to roll back on, the old fleet is not kept for TerminationWaitInSeconds.
  A failed update leaves the old fleet serving, InService, with the FailureReason.
- A crashed server is replaced (as SageMaker replaces unhealthy instances). After a localcloud
  restart every endpoint comes back on its current config (and a pending update carries on).
- Each server's ``TMPDIR`` is a folder of its own (``<state>/sagemaker/endpoint-tmp/<instance>``,
  unless the model's Environment sets one), removed when the server stops: an instance's /tmp.
- Stopping localcloud stops every server this fleet started and has not stopped yet: those
  routed to, those of a deployment still starting, and an old fleet still draining after an
  update (its deployment thread dies with the process), so no model server outlives localcloud.

The routers, deployment threads and server processes live here, never in the records; an
endpoint's record keeps its servers' process identities (so a restart can stop orphans), its
status and its ProductionVariants summaries. Relies on fleet.py, model_files.py, processes.py.
"""

from __future__ import annotations

import contextlib
import logging
import os
import secrets
import shutil
import threading
import time
from pathlib import Path
from typing import Any

from ..config import Settings
from ..errors import AwsError
from ..logs import log_path
from ..store import Doc
from . import common
from .fleet import (
    FleetError,
    Instance,
    Router,
    Table,
    Variant,
    log_stream_name,
    start_server,
    stop_instances,
    wait_ready,
)
from .model_files import ModelFiles
from .processes import GpuPool, instance_gpus, stop_groups
from .records import Endpoint, EndpointConfig, HostingRecords

log = logging.getLogger("localcloud.sagemaker.hosting")

DEFAULT_STARTUP_TIMEOUT = 600
DRAIN_TIMEOUT = 90.0
RESTORED = ("InService", "Updating", "SystemUpdating", "Creating")


def _startup_timeout(spec: Doc) -> float:
    return float(spec.get("ContainerStartupHealthCheckTimeoutInSeconds") or DEFAULT_STARTUP_TIMEOUT)


class Fleet:
    def __init__(
        self, *, settings: Settings, records: HostingRecords, gpu_pool: GpuPool, model_files: ModelFiles
    ) -> None:
        self.settings = settings
        self.models, self.configs, self.endpoints = records.models, records.configs, records.endpoints
        self.gpu_pool = gpu_pool
        self.model_files = model_files
        self.routers: dict[str, Router] = {}
        self.tmp_root = settings.state_dir / "sagemaker" / "endpoint-tmp"
        self._running: dict[str, Instance] = {}  # every server started and not stopped, by instance id
        self._deployments: dict[str, threading.Thread] = {}
        self._cancel: dict[str, threading.Event] = {}
        self._lock = threading.RLock()
        self._stopping = threading.Event()
        self._monitor: threading.Thread | None = None
        self.loop: Any = None  # the edge's event loop (set by runtime.py): pools are closed on it

    # ------------------------------------------------------------------ deployments
    def deploy(self, name: str, config_name: str, *, update: bool) -> threading.Thread:
        """Start ``config_name``'s fleet for endpoint ``name`` in a thread (see the module docstring)."""
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

    def remove(self, endpoint: Endpoint) -> None:
        """DeleteEndpoint: cancel its deployment, stop its servers (and orphans from before a restart)."""
        key = common.key(endpoint.name)
        with self._lock:
            cancel = self._cancel.get(key)
            if cancel is not None:
                cancel.set()
            router = self.routers.pop(key, None)
        if router is not None:
            old = router.switch(None)
            if old is not None:
                self._stop(old.instances)
        stop_groups(endpoint.servers or [], grace=5)

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
                self._set(key, pending_config=None, EndpointStatus="InService", FailureReason=reason)
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
        self._go_live(name, config_name, table, cancel)

    def _go_live(self, name: str, config_name: str, table: Table, cancel: threading.Event) -> None:
        """Route to the new fleet, record the endpoint InService, drain and stop the old fleet."""
        key = common.key(name)
        with self._lock:
            router = self.routers.get(key)
        if router is None or cancel.is_set():  # deleted meanwhile
            self._stop(table.instances)
            return
        old = router.switch(table)
        config = self.configs.get(config_name) or EndpointConfig(description={"ProductionVariants": []})
        self._set(
            key,
            pending_config=None,
            servers=[i.ident for i in table.instances],
            EndpointStatus="InService",
            EndpointConfigName=config_name,
            ProductionVariants=self.variant_summaries(config, live=None, table=table),
        )
        log.info("endpoint %s: InService on %s (%d server(s))", name, config_name, len(table.instances))
        if old is not None:
            router.drain(old.instances, DRAIN_TIMEOUT, self._stopping)
            self._stop(old.instances)

    def _start_fleet(self, name: str, config_name: str, cancel: threading.Event) -> Table:
        config = self.configs.require(
            config_name, common.could_not_find(self.settings, common.ENDPOINT_CONFIG)
        )
        started: list[Instance] = []
        try:
            variants = []
            for spec in config.variants:
                count = 1 if spec.get("ServerlessConfig") else int(spec["InitialInstanceCount"])
                instances: list[Instance] = []
                for _ in range(count):
                    instances.append(self._start_instance(name, spec))
                    started.append(instances[-1])
                weight = float(spec.get("InitialVariantWeight", 1.0))
                variants.append(Variant(spec["VariantName"], weight, tuple(instances)))
            for spec, variant in zip(config.variants, variants, strict=True):
                for instance in variant.instances:
                    wait_ready(instance, _startup_timeout(spec), cancel)
            return Table(config_name, tuple(variants))
        except BaseException:
            self._stop(started)
            raise

    def _start_instance(self, endpoint: str, spec: Doc) -> Instance:
        model = self.models.require(spec["ModelName"], common.could_not_find(self.settings, common.MODEL))
        prepared = self.model_files.prepare(model)
        env = dict(os.environ)
        env.update(self.settings.child_env())
        env.update(prepared.environment)
        gpus = self.gpu_pool.acquire(instance_gpus(spec.get("InstanceType") or ""))
        instance_id = f"i-{secrets.token_hex(8)}"
        if "TMPDIR" not in prepared.environment:
            env["TMPDIR"] = str(self._tmp_dir(instance_id))
            Path(env["TMPDIR"]).mkdir(parents=True)
        log_file = log_path(
            self.settings.state_dir,
            f"/aws/sagemaker/Endpoints/{endpoint}",
            log_stream_name(spec["VariantName"], instance_id),
        )
        instance = start_server(
            model_dir=prepared.model_dir,
            code_dir=prepared.code_dir,
            program=prepared.program,
            env=env,
            log=log_file,
            variant=spec["VariantName"],
            instance_id=instance_id,
            gpus=gpus,
            model=spec["ModelName"],
        )
        with self._lock:
            self._running[instance_id] = instance
            stopping = self._stopping.is_set()
        if stopping:  # stop() has collected the running servers already: this one is ours to stop
            self._stop([instance], grace=5)
            raise FleetError("localcloud is stopping")
        return instance

    def variant_summaries(
        self, config: EndpointConfig, *, live: int | None, table: Table | None = None
    ) -> list[Doc]:
        """DescribeEndpoint's ProductionVariants for ``config`` (instance counts from ``table``)."""
        summaries = []
        for spec in config.variants:
            model = self.models.get(spec["ModelName"])
            container = model.container if model is not None else {}
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

    def _set(
        self,
        key: str,
        *,
        pending_config: str | None = "",
        servers: list[dict[str, float | int]] | None = None,
        **fields: Any,
    ) -> None:
        """Change the endpoint's record (description ``fields``; None removes one), if it still exists.

        ``pending_config``: the config of an update under way (None: none; left as is by default);
        ``servers`` replaces the recorded server processes.
        """

        def change(endpoint: Endpoint) -> None:
            endpoint.set(**fields)
            if pending_config != "":
                endpoint.pending_config = pending_config
            if servers is not None:
                endpoint.servers = servers
            endpoint.set(LastModifiedTime=common.now())

        with contextlib.suppress(KeyError):  # deleted meanwhile
            self.endpoints.update(key, change)

    def _tmp_dir(self, instance_id: str) -> Path:
        return self.tmp_root / instance_id

    def _stop(self, instances: list[Instance], grace: float = 10.0) -> None:
        if not instances:
            return
        stop_instances(instances, grace)
        for instance in instances:
            with self._lock:
                if self._running.pop(instance.instance_id, None) is None:
                    continue  # stopped already (a deployment and stop() both stopping it)
            self.gpu_pool.release(instance.gpus)
            shutil.rmtree(self._tmp_dir(instance.instance_id), ignore_errors=True)
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
        endpoints = self.endpoints.all()
        for endpoint in endpoints:
            stop_groups(endpoint.servers or [], grace=5)
        shutil.rmtree(self.tmp_root, ignore_errors=True)  # the stopped servers' /tmp folders
        for endpoint in endpoints:
            if endpoint.status in RESTORED:
                if endpoint.pending_config:
                    pending[endpoint.name] = endpoint.pending_config
                threads.append(self.deploy(endpoint.name, endpoint.config_name, update=False))
        deadline = time.monotonic() + wait
        for thread in threads:
            thread.join(max(0.0, deadline - time.monotonic()))
        for name, config_name in pending.items():
            current = self.endpoints.get(name)
            if current is not None and current.status == "InService":
                self._set(common.key(name), pending_config=config_name, EndpointStatus="Updating")
                self.deploy(name, config_name, update=True)
        self._monitor = threading.Thread(target=self._watch, name="endpoint-monitor", daemon=True)
        self._monitor.start()

    def stop(self) -> None:
        """Stop every server started and not stopped yet (module docstring), routed to or not."""
        with self._lock:
            self._stopping.set()
            for cancel in self._cancel.values():
                cancel.set()
            routers = list(self.routers.values())
            instances = list(self._running.values())
        for router in routers:
            router.switch(None)
        self._stop(instances, grace=5)

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
        endpoint = self.endpoints.get(key)
        config = self.configs.get(endpoint.config_name) if endpoint is not None else None
        spec = next(
            (v for v in (config.variants if config else []) if v["VariantName"] == dead.variant), None
        )
        if endpoint is None or spec is None:
            return
        log.warning(
            "endpoint %s: model server %s exited with %s; replacing it",
            endpoint.name,
            dead.instance_id,
            dead.process.returncode,
        )
        fresh: Instance | None = None
        try:
            fresh = self._start_instance(endpoint.name, spec)
            wait_ready(fresh, _startup_timeout(spec))
        except (FleetError, AwsError) as exc:
            if fresh is not None:  # it never passed /ping: stop it (it may still be running)
                self._stop([fresh])
            log.error("endpoint %s: replacement failed: %s", endpoint.name, exc)
            router.replace(dead, dead)
            time.sleep(5)
            return
        if not router.replace(dead, fresh):
            self._stop([fresh])
            return
        self._stop([dead])  # it has exited: this releases its GPUs, /tmp and pooled connections
        self._set(key, servers=[i.ident for i in router.table.instances] if router.table else [])
