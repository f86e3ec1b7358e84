"""Lambda's functions: the registry (kept in the store, kind ``lambda/function``, so it survives a
restart) and the warm worker pools running them (``workers.py``, awslambdaric processes).

- ``put_function``/``delete_function``/``get_function``/``list_functions``: the registry;
- ``invoke(function_name, payload)``: Lambda's Invoke, used by Step Functions, the HTTP API and
  the REST route (``responses.py``);
- ``stop()``: kills every worker process by PID.

Up to ``LOCALCLOUD_LAMBDA_CONCURRENCY`` (4) workers run per function; more invocations queue.
"""

from __future__ import annotations

import hashlib
import json
import logging
import shutil
import threading
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from .. import environment
from ..config import Settings
from ..errors import AwsError
from ..store import Store
from .layers import Layer, python_paths, report
from .models import FUNCTION_KIND, MAX_ASYNC_PAYLOAD, MAX_SYNC_PAYLOAD, InvokeResult, function_name_from
from .workers import FunctionPool, FunctionSpec, tmp_root

log = logging.getLogger("localcloud.lambda")


class Functions:
    def __init__(self, *, settings: Settings, store: Store) -> None:
        self.settings = settings
        self.store = store
        self.max_workers = environment.current().lambda_concurrency
        # no worker runs yet: the /tmp folders left are those of a localcloud that was killed
        shutil.rmtree(tmp_root(settings.state_dir), ignore_errors=True)
        self._pools: dict[str, FunctionPool] = {}
        self._lock = threading.Lock()
        self._closed = False

    def stop(self) -> None:
        with self._lock:
            self._closed = True
            pools = list(self._pools.values())
            self._pools.clear()
        for pool in pools:
            pool.close()

    # ------------------------------------------------------------------ registry
    def arn(self, name: str) -> str:
        return self.settings.arn("lambda", f"function:{name}")

    def put_function(
        self,
        name: str,
        *,
        handler: str,
        code_dir: Path,
        runtime: str = "python3.11",
        timeout: int = 3,
        memory: int = 128,
        environment: dict[str, str] | None = None,
        description: str = "",
        role: str | None = None,
        aliases: list[str] | None = None,
        tags: dict[str, str] | None = None,
        layers: Sequence[Layer] = (),
    ) -> dict[str, Any]:
        """Create or update a function (idempotent); running workers pick the change up.
        ``layers`` go on its workers' import path as Lambda's /opt/python (``layers.py``)."""
        code_dir = Path(code_dir).resolve()
        variables = {str(k): str(v) for k, v in (environment or {}).items()}
        doc: dict[str, Any] = {
            "FunctionName": name,
            "FunctionArn": self.arn(name),
            "Runtime": runtime,
            "Role": role or f"arn:aws:iam::{self.settings.account_id}:role/{name}-role",
            "Handler": handler,
            "CodeSize": 0,
            "Description": description,
            "Timeout": int(timeout),
            "MemorySize": int(memory),
            "Version": "$LATEST",
            "Environment": {"Variables": variables},
            "TracingConfig": {"Mode": "PassThrough"},
            "State": "Active",
            "LastUpdateStatus": "Successful",
            "PackageType": "Zip",
            "Architectures": ["x86_64"],
            "EphemeralStorage": {"Size": 512},
            "CodeDir": str(code_dir),
            "Aliases": sorted(set(aliases or [])),
            "Tags": tags or {},
        }
        if layers:
            doc["Layers"] = [
                {"Arn": self.settings.arn("lambda", f"layer:{layer.name}:1"), "CodeSize": 0}
                for layer in layers
            ]
            doc["LayerPaths"] = [str(p) for p in python_paths(layers)]
        report(layers)
        doc["CodeSha256"] = hashlib.sha256(
            json.dumps([str(code_dir), handler], sort_keys=True).encode()
        ).hexdigest()
        existing = self.store.get(FUNCTION_KIND, name)
        comparable = {k: v for k, v in doc.items() if k != "LastModified"}
        if existing is not None and {k: v for k, v in existing.items() if k != "LastModified"} == comparable:
            return existing
        doc["LastModified"] = time.strftime("%Y-%m-%dT%H:%M:%S.000+0000", time.gmtime())
        doc["RevisionId"] = hashlib.sha1(json.dumps(comparable, sort_keys=True).encode()).hexdigest()[:32]
        self.store.put(FUNCTION_KIND, name, doc)
        with self._lock:
            pool = self._pools.get(name)
        if pool is not None:
            pool.update(FunctionSpec.from_doc(doc))
        return doc

    def delete_function(self, name: str) -> None:
        self.store.delete(FUNCTION_KIND, name)
        with self._lock:
            pool = self._pools.pop(name, None)
        if pool is not None:
            pool.close()

    def resolve(self, identifier: str) -> dict[str, Any]:
        """The function doc for a name, ARN, partial ARN or alias (the template's logical ID)."""
        name, _qualifier = function_name_from(identifier)
        doc = self.store.get(FUNCTION_KIND, name)
        if doc is None:
            doc = next((d for d in self.store.list(FUNCTION_KIND) if name in d.get("Aliases", [])), None)
        if doc is None:
            arn = identifier if identifier.startswith("arn:") else self.arn(name)
            raise AwsError("ResourceNotFoundException", f"Function not found: {arn}", status=404, Type="User")
        return doc

    def get_function(self, identifier: str) -> dict[str, Any]:
        return configuration(self.resolve(identifier))

    def list_functions(self) -> list[dict[str, Any]]:
        return [configuration(d) for d in self.store.list(FUNCTION_KIND)]

    # ------------------------------------------------------------------ invoke
    def _running(self, identifier: str) -> FunctionPool | None:
        """The pool of a function invoked before under its name (or ARN), without a store read:
        put_function updates a pool's spec and delete_function drops the pool, so a pool found
        here runs the current configuration. Aliases take the store path (``resolve``)."""
        name, _qualifier = function_name_from(identifier)
        with self._lock:
            return None if self._closed else self._pools.get(name)

    def _pool(self, doc: dict[str, Any]) -> FunctionPool:
        spec = FunctionSpec.from_doc(doc)
        with self._lock:
            if self._closed:
                raise AwsError("ServiceException", "localcloud is shutting down", status=500)
            pool = self._pools.get(spec.name)
            if pool is None:
                pool = self._pools[spec.name] = FunctionPool(spec, self.settings, self.max_workers)
            elif pool.spec != spec:
                pool.update(spec)
            return pool

    def invoke(
        self,
        function_name: str,
        payload: bytes = b"",
        *,
        invocation_type: str = "RequestResponse",
        log_type: str | None = None,
        client_context: str | None = None,
        on_result: Callable[[InvokeResult], None] | None = None,
    ) -> InvokeResult:
        """Invoke a function as Lambda's Invoke API does; AwsError for service-side errors.
        ``on_result``: a RequestResponse call's result, early (``FunctionPool.invoke``)."""
        pool = self._running(function_name)
        doc = self.resolve(function_name) if pool is None else None
        if invocation_type not in ("RequestResponse", "Event", "DryRun"):
            raise AwsError(
                "InvalidParameterValueException",
                f"Unsupported InvocationType: {invocation_type} (RequestResponse, Event or DryRun)",
            )
        payload = _checked_payload(
            payload, MAX_ASYNC_PAYLOAD if invocation_type == "Event" else MAX_SYNC_PAYLOAD
        )
        if invocation_type == "DryRun":
            return InvokeResult(status=204, payload=b"")
        if pool is None:
            assert doc is not None
            pool = self._pool(doc)
        if invocation_type == "Event":
            thread = threading.Thread(
                target=self._invoke_async,
                args=(pool, payload, client_context),
                daemon=True,
                name=f"lambda-event-{pool.spec.name[:40]}",
            )
            thread.start()
            return InvokeResult(status=202, payload=b"")
        try:
            return pool.invoke(
                payload, tail=log_type == "Tail", client_context=client_context, on_result=on_result
            )
        except RuntimeError as exc:
            raise AwsError("ServiceException", str(exc), status=500) from None
        except OSError as exc:
            message = f"cannot start a worker for {pool.spec.name}: {exc}"
            raise AwsError("ServiceException", message, status=500) from None

    def start_invoke(
        self, function_name: str, payload: bytes, /, *, on_result: Callable[[InvokeResult], None]
    ) -> Callable[[], InvokeResult] | None:
        """A RequestResponse Invoke started without blocking, for a caller on an event loop
        (``FunctionPool.start``): the callable returned, run on a thread, finishes it; None when the
        function has no idle warm worker (then call ``invoke``). AwsError as ``invoke`` raises it."""
        pool = self._running(function_name)
        if pool is None:
            return None
        return pool.start(_checked_payload(payload, MAX_SYNC_PAYLOAD), on_result=on_result)

    def _invoke_async(self, pool: FunctionPool, payload: bytes, client_context: str | None) -> None:
        try:
            result = pool.invoke(payload, client_context=client_context)
            if result.function_error:
                log.warning("asynchronous invocation of %s failed: %s", pool.spec.name, result.payload[:500])
        except Exception:
            log.exception("asynchronous invocation of %s failed", pool.spec.name)

    def worker_pids(self) -> dict[str, list[int]]:
        """PIDs of live workers per function (for status and tests)."""
        with self._lock:
            pools = dict(self._pools)
        return {name: [w.pid for w in pool.workers()] for name, pool in pools.items()}


def _checked_payload(payload: bytes, limit: int) -> bytes:
    """Invoke's checks on a payload (size, JSON): AwsError as Lambda answers them; b"{}" for none."""
    if len(payload) > limit:
        raise AwsError(
            "RequestTooLargeException",
            f"Request must be smaller than {limit} bytes for the InvokeFunction operation",
            status=413,
            Type="User",
        )
    if not payload.strip():
        return b"{}"
    try:
        json.loads(payload)
    except ValueError as exc:
        raise AwsError(
            "InvalidRequestContentException",
            f"Could not parse request body into json: {exc}",
            status=400,
            Type="User",
        ) from None
    return payload


def configuration(doc: dict[str, Any]) -> dict[str, Any]:
    """Lambda's FunctionConfiguration shape (localcloud's own fields removed)."""
    return {k: v for k, v in doc.items() if k not in ("CodeDir", "LayerPaths", "Aliases", "Tags")}
