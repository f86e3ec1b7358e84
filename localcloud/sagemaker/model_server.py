"""A model server speaking the SageMaker container contract around a model artifact's inference.py.

    python -m localcloud.sagemaker.model_server --model-dir DIR [--code-dir DIR] [--program inference.py]
        (--fd N | --port N)

It does what the SageMaker PyTorch inference toolkit does with a user's handlers: imports the
program from ``code/`` (on sys.path, so its own packages import), calls ``model_fn(model_dir)``
once, then for each ``POST /invocations`` runs ``transform_fn`` or ``input_fn`` -> ``predict_fn`` ->
``output_fn`` (JSON and CSV bodies arrive decoded as str, as in the toolkit; a missing or ``*/*``
Accept becomes ``application/json``; ``output_fn`` may return ``(body, content_type)``).
``GET /ping`` answers 200 once the model is loaded. An exception with an integer ``status``
(or ``status_code``) attribute becomes that HTTP status with the exception's message; any other
exception is a 500 whose traceback goes to the log. If ``model_fn`` raises, the process exits
with status 2 after printing the traceback (the endpoint goes Failed with it).

Batching and workers (docs/localcloud.md#batched-serving) follow the toolkit's variables, read by
:mod:`.batching` (``SAGEMAKER_TS_BATCH_SIZE``, ``SAGEMAKER_TS_MAX_BATCH_DELAY``, the worker counts).
Every request is queued to the main thread, which runs them in batches (a lone request at once,
without waiting for company): the model only ever runs on that one thread, so PyTorch keeps one
OpenMP team of intra-op threads per process (see :mod:`.batching`). Unless the model's
environment sets ``OMP_WAIT_POLICY`` or ``GOMP_SPINCOUNT``, the server sets
``GOMP_SPINCOUNT=1000`` before importing the user's code (:mod:`.openmp`). A program
that also defines ``predict_batch_fn(inputs, model) -> predictions`` (one per input, in order) gets
one call per batch: its ``input_fn`` and ``output_fn`` then run on the request threads
(concurrently, so they must be thread-safe) and each request keeps its own status, so one bad image
fails only its request. Other programs run ``input_fn -> predict_fn -> output_fn`` per request of
the batch, as the toolkit's handler service does. With several workers this process only supervises:
it starts that many worker processes and hands each connection it accepts to the one with the
fewest open (:mod:`.worker_connections`), each worker with ``OMP_NUM_THREADS =
cores // workers`` (unless set; then a batch of one request runs with every core:
:class:`IntraOpThreads`), and exits when one of them fails.
``GET /metrics`` reports this process's batch counts (JSON).

Served by the standard library's ThreadingHTTPServer (HTTP/1.1 keep-alive, Nagle off) with
``localcloud.http_handler``'s request handler: plain header blocks read without the ``email``
parser, and a response's head and body in one write. The
process must not import anything heavy besides the user's code. The server exits when its
parent (localcloud) goes away.
"""

from __future__ import annotations

import argparse
import contextlib
import http.server
import importlib.util
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
import traceback
from collections.abc import Callable, Sequence
from pathlib import Path
from types import ModuleType
from typing import Any

from ..http_handler import FastRequestHandler
from .batching import Batcher, BatchSettings, SettingsError
from .openmp import brief_openmp_spin
from .worker_activity import WorkerActivity, shared_activity
from .worker_connections import ConnectionDispatcher, closed_notifier, serve_handed_connections

JSON = "application/json"
UTF8_TYPES = ("application/json", "text/csv")
TEXT = "text/plain; charset=utf-8"

Reply = tuple[int, bytes, str]
"""(HTTP status, body, content type) of one invocation."""


class HandlerError(Exception):
    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


def load_program(code_dir: Path, program: str) -> ModuleType:
    sys.path.insert(0, str(code_dir))
    path = code_dir / program
    if not path.is_file():
        raise FileNotFoundError(f"{program} not found in {code_dir} (SAGEMAKER_PROGRAM / model code/ folder)")
    spec = importlib.util.spec_from_file_location(Path(program).stem, path)
    if spec is None or spec.loader is None:
        raise ImportError(f"cannot import {path}")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


def _default_input_fn(body: Any, content_type: str) -> Any:
    if content_type.split(";", 1)[0].strip() == JSON:
        return json.loads(body)
    raise HandlerError(
        415,
        f"Content type {content_type} is not supported by the default input_fn "
        "(define input_fn in inference.py)",
    )


def _default_predict_fn(data: Any, model: Any) -> Any:
    if "torch" in sys.modules:
        torch = sys.modules["torch"]
        with torch.no_grad():
            tensor = data if isinstance(data, torch.Tensor) else torch.as_tensor(data)
            return model(tensor)
    return model(data)


def _default_output_fn(prediction: Any, accept: str) -> Any:
    if accept.split(";", 1)[0].strip() != JSON:
        raise HandlerError(406, f"Accept {accept} is not supported by the default output_fn")
    if hasattr(prediction, "tolist"):
        prediction = prediction.tolist()
    return json.dumps(prediction)


def error_status(exc: BaseException) -> tuple[int, str]:
    """(HTTP status, message) for an exception raised by the user's handlers."""
    for attribute in ("status", "status_code"):
        value = getattr(exc, attribute, None)
        if isinstance(value, int) and 400 <= value <= 599:
            message = getattr(exc, "message", None) or str(exc) or type(exc).__name__
            return value, str(message)
    return 500, f"{type(exc).__name__}: {exc}"


def error_reply(exc: BaseException) -> Reply:
    """The reply for a failed invocation; a 5xx's traceback (a 4xx's message) goes to the log."""
    status, message = error_status(exc)
    if status >= 500:
        traceback.print_exception(exc)
    else:
        print(f"invocation rejected ({status}): {message}", file=sys.stderr, flush=True)
    return status, message.encode("utf-8", errors="replace"), TEXT


class Handlers:
    """The user's functions (or the toolkit-like defaults) and the loaded model."""

    def __init__(self, module: ModuleType, model_dir: Path) -> None:
        if not hasattr(module, "model_fn"):
            raise AttributeError("inference.py must define model_fn(model_dir)")
        self.model = module.model_fn(str(model_dir))
        self.transform_fn = getattr(module, "transform_fn", None)
        self.input_fn = getattr(module, "input_fn", _default_input_fn)
        self.predict_fn = getattr(module, "predict_fn", _default_predict_fn)
        self.output_fn = getattr(module, "output_fn", _default_output_fn)
        batch_fn = getattr(module, "predict_batch_fn", None)
        self.predict_batch_fn: Callable[[list[Any], Any], Sequence[Any]] | None = (
            batch_fn if self.transform_fn is None and callable(batch_fn) else None
        )
        self.default_accept = os.environ.get("SAGEMAKER_DEFAULT_INVOCATIONS_ACCEPT", JSON)

    def accept_or_default(self, accept: str) -> str:
        if not accept or accept.split(";", 1)[0].strip() == "*/*":
            return self.default_accept
        return accept

    def decode(self, body: bytes, content_type: str) -> Any:
        """``input_fn``'s result; JSON and CSV bodies are passed as text, as the toolkit does."""
        base_type = content_type.split(";", 1)[0].strip().lower()
        data: Any = body
        if base_type in UTF8_TYPES:
            try:
                data = body.decode("utf-8")
            except UnicodeDecodeError:
                raise HandlerError(
                    400, f"The request body is declared {base_type} but is not UTF-8 text"
                ) from None
        if self.transform_fn is not None:
            return data
        return self.input_fn(data, content_type)

    def encode(self, prediction: Any, accept: str) -> tuple[bytes, str]:
        """``output_fn``'s result as (body, content type)."""
        return self._as_bytes(self.output_fn(prediction, accept), accept)

    @staticmethod
    def _as_bytes(result: Any, accept: str) -> tuple[bytes, str]:
        response_type = accept.split(",", 1)[0].strip()
        if isinstance(result, tuple):
            result, response_type = result[0], result[1]
        if isinstance(result, str):
            result = result.encode("utf-8")
        elif not isinstance(result, (bytes, bytearray)):
            result = json.dumps(result).encode("utf-8") if response_type == JSON else str(result).encode()
        return bytes(result), response_type

    def invoke(self, body: bytes, content_type: str, accept: str) -> tuple[bytes, str]:
        """Run the handlers; the headers are passed whole (parameters included), as the toolkit does."""
        accept = self.accept_or_default(accept)
        data = self.decode(body, content_type)
        if self.transform_fn is not None:
            return self._as_bytes(self.transform_fn(self.model, data, content_type, accept), accept)
        return self.encode(self.predict_fn(data, self.model), accept)

    def reply(self, body: bytes, content_type: str, accept: str) -> Reply:
        """:meth:`invoke` with its failure turned into the error reply."""
        try:
            out, out_type = self.invoke(body, content_type, accept)
        except Exception as exc:
            return error_reply(exc)
        return 200, out, out_type

    def predict_batch(self, inputs: list[Any]) -> Sequence[Any]:
        assert self.predict_batch_fn is not None
        return self.predict_batch_fn(inputs, self.model)


class IntraOpThreads:
    """PyTorch's intra-op threads for each batch: ``lone`` for a batch of one request, ``batch`` for more.

    Set by the supervisor when it chose the workers' threads (``cores // workers``): a worker then
    runs a lone request with every core while the other workers are idle (at one client; one image
    gains from a second thread) and batches, or a lone request while another worker runs a forward
    pass (:mod:`.worker_activity`), with its share, so that concurrent workers do not oversubscribe
    the cores. Nothing happens before the user's code has imported PyTorch."""

    def __init__(self, batch: int, lone: int, activity: WorkerActivity | None = None) -> None:
        self.batch, self.lone = batch, lone
        self.activity = activity

    def wanted(self, items: int) -> int:
        """The threads for a batch of ``items`` (called with this worker marked running)."""
        if items > 1 or (self.activity is not None and self.activity.others_running()):
            return self.batch
        return self.lone

    def run(self, run: Callable[[list[Any]], Sequence[Any]]) -> Callable[[list[Any]], Sequence[Any]]:
        def sized(items: list[Any]) -> Sequence[Any]:
            with self.activity.running() if self.activity is not None else contextlib.nullcontext():
                torch = sys.modules.get("torch")
                wanted = self.wanted(len(items))
                if torch is not None and int(torch.get_num_threads()) != wanted:
                    torch.set_num_threads(wanted)
                return run(items)

        return sized


class Invoker:
    """Turns one request into its reply: directly, or through the batcher on the main thread."""

    def __init__(
        self,
        handlers: Handlers,
        settings: BatchSettings | None = None,
        threads: IntraOpThreads | None = None,
    ) -> None:
        self.handlers = handlers
        self.batcher: Batcher[Any, Any] | None = None
        run: Callable[[list[Any]], Sequence[Any]] = (
            handlers.predict_batch if handlers.predict_batch_fn is not None else self._per_request
        )
        if settings is not None:
            self.batcher = Batcher(threads.run(run) if threads else run, settings)

    def _per_request(self, requests: list[tuple[bytes, str, str]]) -> list[Reply]:
        return [self.handlers.reply(*request) for request in requests]

    def __call__(self, body: bytes, content_type: str, accept: str) -> Reply:
        if self.batcher is None:
            return self.handlers.reply(body, content_type, accept)
        if self.handlers.predict_batch_fn is None:
            reply: Reply = self.batcher.submit((body, content_type, accept))
            return reply
        try:
            accept = self.handlers.accept_or_default(accept)
            prediction = self.batcher.submit(self.handlers.decode(body, content_type))
            out, out_type = self.handlers.encode(prediction, accept)
        except Exception as exc:
            return error_reply(exc)
        return 200, out, out_type

    def stats(self) -> dict[str, object]:
        return {"pid": os.getpid(), **(self.batcher.stats() if self.batcher else {"batchSize": 1})}


def make_request_handler(
    handlers: Handlers, invoker: Invoker | None = None
) -> type[http.server.BaseHTTPRequestHandler]:
    invoke = invoker or Invoker(handlers)

    class RequestHandler(FastRequestHandler):
        server_version = "localcloud-model-server"
        # Socket read timeout: a connection idle (or stuck in its headers/body) this long is closed;
        # the edge's pool retries once on a fresh connection when a kept-alive one was closed.
        timeout = 60

        def _send(self, status: int, body: bytes, content_type: str = JSON) -> None:
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def do_GET(self) -> None:
            if self.path == "/ping":
                self._send(200, b"")
            elif self.path == "/execution-parameters":
                self._send(
                    200,
                    json.dumps(
                        {"MaxConcurrentTransforms": 1, "BatchStrategy": "MULTI_RECORD", "MaxPayloadInMB": 6}
                    ).encode(),
                )
            elif self.path == "/metrics":
                self._send(200, json.dumps(invoke.stats()).encode())
            else:
                self._send(404, b'{"message": "not found"}')

        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length) if length else b""
            if self.path != "/invocations":
                self._send(404, b'{"message": "not found"}')
                return
            content_type = (self.headers.get("Content-Type") or "").strip()
            accept = (self.headers.get("Accept") or "").strip()
            self._send(*invoke(body, content_type, accept))

        def log_message(self, format: str, *args: Any) -> None:  # quiet: one line per request is noise
            return

    return RequestHandler


def _watch_parent(parent: int) -> None:
    while True:
        if os.getppid() != parent:
            os._exit(0)
        time.sleep(1.0)


def _arguments(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--model-dir", type=Path, required=True)
    parser.add_argument("--code-dir", type=Path)
    parser.add_argument("--program", default=os.environ.get("SAGEMAKER_PROGRAM") or "inference.py")
    parser.add_argument("--fd", type=int, help="an inherited listening socket")
    parser.add_argument("--port", type=int, default=8080)
    parser.add_argument(
        "--worker", action="store_true", help="one of several workers (set by the supervisor)"
    )
    parser.add_argument(
        "--lone-threads", type=int, help="intra-op threads for a batch of one (set by the supervisor)"
    )
    parser.add_argument(
        "--activity-fd",
        type=int,
        help="the workers' shared activity bytes (.worker_activity; set by the supervisor)",
    )
    parser.add_argument("--worker-index", type=int, default=0, help="this worker's byte in them")
    parser.add_argument(
        "--connections-fd",
        type=int,
        help="a Unix socket the supervisor passes accepted connections on (set by the supervisor)",
    )
    return parser.parse_args(argv)


def _listening_socket(args: argparse.Namespace) -> socket.socket:
    if args.fd is not None:
        return socket.socket(fileno=args.fd)
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", args.port))
    sock.listen(256)
    return sock


def supervise(args: argparse.Namespace, settings: BatchSettings) -> int:
    """Run ``settings.workers`` worker processes, handing each accepted connection to the one with
    the fewest (:mod:`.worker_connections`), until one of them exits."""
    sock = _listening_socket(args)
    env = dict(os.environ)
    cores = len(os.sched_getaffinity(0))
    threads = str(settings.threads_per_worker(cores))
    argv = [sys.executable, "-m", __spec__.name if __spec__ else "localcloud.sagemaker.model_server"]
    argv += ["--model-dir", str(args.model_dir), "--program", args.program]
    argv += ["--code-dir", str(args.code_dir)] if args.code_dir else []
    activity: int | None = None  # the workers' shared activity page, when lone requests take every core
    if "OMP_NUM_THREADS" not in env:  # the model's own setting wins, for lone requests too
        activity = shared_activity(settings.workers)
        argv += ["--lone-threads", str(cores), "--activity-fd", str(activity)]
    for name in ("OMP_NUM_THREADS", "MKL_NUM_THREADS"):
        env.setdefault(name, threads)
    workers: list[subprocess.Popen[bytes]] = []
    channels: list[socket.socket] = []
    for index in range(settings.workers):
        ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
        worker_argv = [*argv, "--worker", "--worker-index", str(index)]
        worker_argv += ["--connections-fd", str(theirs.fileno())]
        workers.append(
            subprocess.Popen(
                worker_argv,
                env=env,
                pass_fds=(theirs.fileno(), *([] if activity is None else [activity])),
                stdin=subprocess.DEVNULL,
            )
        )
        theirs.close()
        channels.append(ours)
    if activity is not None:
        os.close(activity)  # the workers hold it
    dispatcher = ConnectionDispatcher(sock, channels)
    print(f"model server: {len(workers)} workers x {threads} threads", file=sys.stderr, flush=True)

    stopping = threading.Event()

    def stop(*_: object) -> None:
        stopping.set()
        for worker in workers:
            if worker.poll() is None:
                worker.terminate()

    signal.signal(signal.SIGTERM, stop)
    while all((code := w.poll()) is None for w in workers):
        dispatcher.run_once(timeout=0.2)
    failed = not stopping.is_set()
    stop()
    dispatcher.close()
    sock.close()
    for worker in workers:
        worker.wait()
    if failed:
        print(f"model server: a worker exited with status {code}", file=sys.stderr, flush=True)
        return code if code and code > 0 else 1
    return 0


def serve(args: argparse.Namespace, settings: BatchSettings) -> int:
    """Load the model and serve HTTP on background threads; batches run on this (main) thread."""
    code_dir = args.code_dir or args.model_dir / "code"
    try:
        handlers = Handlers(load_program(code_dir, args.program), args.model_dir)
    except Exception:
        traceback.print_exc()
        print("model server: loading the model failed", file=sys.stderr, flush=True)
        return 2
    threads = None
    if args.lone_threads:
        activity = None if args.activity_fd is None else WorkerActivity(args.activity_fd, args.worker_index)
        threads = IntraOpThreads(settings.threads_per_worker(args.lone_threads), args.lone_threads, activity)
    invoker = Invoker(handlers, settings, threads)
    assert invoker.batcher is not None
    server = _Server(
        ("127.0.0.1", args.port), make_request_handler(handlers, invoker), bind_and_activate=False
    )
    server.daemon_threads = True
    server.socket.close()
    batcher = invoker.batcher
    channel = None if args.connections_fd is None else socket.socket(fileno=args.connections_fd)
    http_thread = _http_thread(server, channel, args)

    def stop(*_: object) -> None:
        if channel is None:
            threading.Thread(target=server.shutdown, daemon=True).start()
        else:
            with contextlib.suppress(OSError):
                channel.shutdown(socket.SHUT_RDWR)  # ends serve_handed_connections
        batcher.stop()

    signal.signal(signal.SIGTERM, stop)
    http_thread.start()
    print(
        f"model server ready (pid {os.getpid()}, model {args.model_dir}, batch size {settings.batch_size}, "
        f"max delay {settings.max_delay_ms} ms, batched forward {handlers.predict_batch_fn is not None})",
        file=sys.stderr,
        flush=True,
    )
    try:
        batcher.run_forever()
    finally:
        http_thread.join(timeout=5)
        server.server_close()
    return 0


def _http_thread(
    server: _Server, channel: socket.socket | None, args: argparse.Namespace
) -> threading.Thread:
    """The thread that takes connections: from the supervisor's channel (a worker) or by accepting."""
    if channel is not None:
        server.on_close = closed_notifier(channel)
        return threading.Thread(target=serve_handed_connections, args=(server, channel), daemon=True)
    server.socket = _listening_socket(args)
    return threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.2}, daemon=True)


def main(argv: list[str] | None = None) -> int:
    args = _arguments(argv)
    brief_openmp_spin(os.environ)  # before the user's code imports PyTorch (and for the workers)
    threading.Thread(target=_watch_parent, args=(os.getppid(),), daemon=True).start()
    try:
        settings = BatchSettings.from_env()
    except SettingsError as exc:
        print(f"model server: {exc}", file=sys.stderr, flush=True)
        return 2
    if settings.workers > 1 and not args.worker:
        return supervise(args, settings)
    return serve(args, settings)


class _Server(http.server.ThreadingHTTPServer):
    on_close: Callable[[], None] | None = None  # a worker tells the supervisor (.worker_connections)

    def shutdown_request(self, request: Any) -> None:
        super().shutdown_request(request)
        if self.on_close is not None:
            self.on_close()

    def handle_error(self, request: Any, client_address: Any) -> None:
        if isinstance(sys.exc_info()[1], ConnectionError):
            return  # a client went away: not worth a traceback in the endpoint's log
        super().handle_error(request, client_address)


if __name__ == "__main__":
    raise SystemExit(main())
