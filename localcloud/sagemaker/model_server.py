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

Served by the standard library's ThreadingHTTPServer (HTTP/1.1 keep-alive, Nagle off): per
request it costs ~0.1 ms here, and the process must not import anything heavy besides the
user's code. The server exits when its parent (localcloud) goes away.
"""

from __future__ import annotations

import argparse
import http.server
import importlib.util
import json
import os
import queue
import signal
import socket
import sys
import threading
import time
import traceback
from collections.abc import Callable
from concurrent.futures import Future
from pathlib import Path
from types import ModuleType
from typing import Any

JSON = "application/json"
UTF8_TYPES = ("application/json", "text/csv")


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
        self.default_accept = os.environ.get("SAGEMAKER_DEFAULT_INVOCATIONS_ACCEPT", JSON)

    def invoke(self, body: bytes, content_type: str, accept: str) -> tuple[bytes, str]:
        """Run the handlers; the headers are passed whole (parameters included), as the toolkit does."""
        if not accept or accept.split(";", 1)[0].strip() == "*/*":
            accept = self.default_accept
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
            result = self.transform_fn(self.model, data, content_type, accept)
        else:
            result = self.output_fn(self.predict_fn(self.input_fn(data, content_type), self.model), accept)
        response_type = accept.split(",", 1)[0].strip()
        if isinstance(result, tuple):
            result, response_type = result[0], result[1]
        if isinstance(result, str):
            result = result.encode("utf-8")
        elif not isinstance(result, (bytes, bytearray)):
            result = json.dumps(result).encode("utf-8") if response_type == JSON else str(result).encode()
        return bytes(result), response_type


def error_status(exc: BaseException) -> tuple[int, str]:
    """(HTTP status, message) for an exception raised by the user's handlers."""
    for attribute in ("status", "status_code"):
        value = getattr(exc, attribute, None)
        if isinstance(value, int) and 400 <= value <= 599:
            message = getattr(exc, "message", None) or str(exc) or type(exc).__name__
            return value, str(message)
    return 500, f"{type(exc).__name__}: {exc}"


class MainThreadRunner:
    """Runs the handlers on the main thread, one invocation at a time, for the HTTP threads.

    PyTorch's OpenMP pool belongs to the thread that calls it: measured here, the same forward pass
    takes ~2x longer from a secondary thread than from the main one, and concurrent calls only
    fight over the same cores. So HTTP is served on a background thread and every invocation is
    queued to the main thread (as each SageMaker model-server worker runs one request at a time).
    """

    def __init__(self) -> None:
        self._jobs: queue.SimpleQueue[tuple[Callable[[], Any], Future[Any]] | None] = queue.SimpleQueue()

    def call(self, function: Callable[[], Any]) -> Any:
        future: Future[Any] = Future()
        self._jobs.put((function, future))
        return future.result()

    def run_forever(self) -> None:
        while (job := self._jobs.get()) is not None:
            function, future = job
            try:
                future.set_result(function())
            except BaseException as exc:
                future.set_exception(exc)

    def stop(self) -> None:
        self._jobs.put(None)


def make_request_handler(
    handlers: Handlers, runner: MainThreadRunner | None = None
) -> type[http.server.BaseHTTPRequestHandler]:
    class RequestHandler(http.server.BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        disable_nagle_algorithm = True
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
            try:
                if runner is None:
                    out, out_type = handlers.invoke(body, content_type, accept)
                else:
                    out, out_type = runner.call(lambda: handlers.invoke(body, content_type, accept))
            except Exception as exc:
                status, message = error_status(exc)
                if status >= 500:
                    traceback.print_exc()
                else:
                    print(f"invocation rejected ({status}): {message}", file=sys.stderr, flush=True)
                self._send(status, message.encode("utf-8", errors="replace"), "text/plain; charset=utf-8")
                return
            self._send(200, out, out_type)

        def log_message(self, format: str, *args: Any) -> None:  # quiet: one line per request is noise
            return

    return RequestHandler


def _watch_parent(parent: int) -> None:
    while True:
        if os.getppid() != parent:
            os._exit(0)
        time.sleep(1.0)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--model-dir", type=Path, required=True)
    parser.add_argument("--code-dir", type=Path)
    parser.add_argument("--program", default=os.environ.get("SAGEMAKER_PROGRAM") or "inference.py")
    parser.add_argument("--fd", type=int, help="an inherited listening socket")
    parser.add_argument("--port", type=int, default=8080)
    args = parser.parse_args(argv)
    threading.Thread(target=_watch_parent, args=(os.getppid(),), daemon=True).start()
    code_dir = args.code_dir or args.model_dir / "code"
    try:
        handlers = Handlers(load_program(code_dir, args.program), args.model_dir)
    except Exception:
        traceback.print_exc()
        print("model server: loading the model failed", file=sys.stderr, flush=True)
        return 2
    runner = MainThreadRunner()
    server = _Server(
        ("127.0.0.1", args.port), make_request_handler(handlers, runner), bind_and_activate=args.fd is None
    )
    server.daemon_threads = True
    if args.fd is not None:
        server.socket.close()
        server.socket = socket.socket(fileno=args.fd)

    def stop(*_: object) -> None:
        threading.Thread(target=server.shutdown, daemon=True).start()
        runner.stop()

    signal.signal(signal.SIGTERM, stop)
    http_thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.2}, daemon=True)
    http_thread.start()
    print(f"model server ready (pid {os.getpid()}, model {args.model_dir})", file=sys.stderr, flush=True)
    try:
        runner.run_forever()
    finally:
        http_thread.join(timeout=5)
        server.server_close()
    return 0


class _Server(http.server.ThreadingHTTPServer):
    def handle_error(self, request: Any, client_address: Any) -> None:
        if isinstance(sys.exc_info()[1], ConnectionError):
            return  # a client went away: not worth a traceback in the endpoint's log
        super().handle_error(request, client_address)


if __name__ == "__main__":
    raise SystemExit(main())
