"""Start and stop a real ``localcloud up`` process for tests, by PID, on free 127.0.0.1 ports.

The server is started by localcloud's own ``spawn_up`` (the command ``localcloud up --detach``
runs), with ``Settings`` for its ports and state dir; its log is ``<state_dir>/localcloud.log``.

    with LocalCloudProcess(tmp_path / "state", template=None) as lc:
        s3 = lc.client("s3")

``kill()`` sends SIGKILL to the server alone, ``kill_tree()`` to the server and every process
under it (a lost host: fault-injection tests), and ``start()`` brings it back on the same
ports and state dir. Child processes that the server started (training jobs, model servers,
Lambda workers) run in the server's process group... they are the server's job to stop; after a
SIGKILL the test calls ``start()`` again (reconcile) and then ``stop()``, which stops them.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import time
import urllib.error
import urllib.request
from pathlib import Path
from types import TracebackType
from typing import Any
from unittest import mock

import boto3
import psutil
from botocore.config import Config

from localcloud.cli import spawn_up
from localcloud.config import Settings

REPO = Path(__file__).resolve().parents[2]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class LocalCloudProcess:
    def __init__(
        self,
        state_dir: Path,
        *,
        template: Path | None = None,
        env: dict[str, str] | None = None,
        ready_timeout: float = 120.0,
    ) -> None:
        self.state_dir = state_dir
        self.template = template
        self.settings = Settings(
            state_dir=state_dir, port=free_port(), api_port=free_port(), template=template
        )
        self.extra_env = env or {}
        self.ready_timeout = ready_timeout
        self.proc: subprocess.Popen[bytes] | None = None
        self.log_path = self.settings.state_dir / "localcloud.log"

    @property
    def port(self) -> int:
        return self.settings.port

    @property
    def api_port(self) -> int:
        return self.settings.api_port

    @property
    def edge_url(self) -> str:
        return self.settings.edge_url

    @property
    def api_url(self) -> str:
        return self.settings.api_url

    @property
    def pid(self) -> int:
        assert self.proc is not None
        return self.proc.pid

    def env(self) -> dict[str, str]:
        """Environment for AWS CLI / SDK processes aimed at this instance."""
        env = dict(os.environ)
        env.update(
            {
                "AWS_ENDPOINT_URL": self.edge_url,
                "AWS_ACCESS_KEY_ID": "test",
                "AWS_SECRET_ACCESS_KEY": "test",
                "AWS_DEFAULT_REGION": "us-east-1",
                "AWS_CONFIG_FILE": os.devnull,
                "AWS_SHARED_CREDENTIALS_FILE": os.devnull,
            }
        )
        return env

    def client(self, service: str, **kwargs: Any) -> Any:
        return boto3.client(
            service,
            endpoint_url=self.edge_url,
            region_name="us-east-1",
            aws_access_key_id="test",
            aws_secret_access_key="test",
            config=Config(retries={"max_attempts": 2, "mode": "standard"}, read_timeout=120),
            **kwargs,
        )

    def start(self) -> LocalCloudProcess:
        """``localcloud up`` as the CLI starts it, with ``env`` (and the repo's import path) added."""
        server_env = {"PYTHONPATH": os.pathsep.join(str(REPO / p) for p in ("training", "functions", "."))}
        server_env = {k: v for k, v in server_env.items() if k not in os.environ} | self.extra_env
        with mock.patch.dict(os.environ, server_env):  # spawn_up's child inherits this environment
            self.proc = spawn_up(self.settings)
        self._wait_ready()
        return self

    def _wait_ready(self) -> None:
        deadline = time.monotonic() + self.ready_timeout
        while time.monotonic() < deadline:
            assert self.proc is not None
            if self.proc.poll() is not None:
                raise RuntimeError(f"localcloud exited ({self.proc.returncode}):\n{self.server_log()}")
            try:
                with urllib.request.urlopen(f"{self.edge_url}/_localcloud/health", timeout=2) as resp:
                    if resp.status == 200:
                        return
            except (urllib.error.URLError, OSError):
                pass
            time.sleep(0.1)
        raise TimeoutError(f"localcloud not ready:\n{self.server_log()}")

    def server_log(self) -> str:
        return self.log_path.read_text(errors="replace")[-8000:] if self.log_path.exists() else ""

    def kill(self) -> None:
        """SIGKILL the server (its children survive, as after a crash)."""
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait(timeout=30)

    def kill_tree(self) -> list[int]:
        """SIGKILL the server and every process under it at once (a lost host): training jobs and
        model servers run in sessions of their own, so the server's process group alone would miss
        them. Returns the pids killed; all of them are gone when this returns."""
        if not self.proc or self.proc.poll() is not None:
            return []
        server = psutil.Process(self.proc.pid)
        server.suspend()  # no new children while the tree is collected
        tree = [server, *server.children(recursive=True)]
        for proc in tree:
            with contextlib.suppress(psutil.Error):
                proc.kill()
        self.proc.wait(timeout=30)
        _, alive = psutil.wait_procs(tree[1:], timeout=30)
        assert not alive, f"still alive after SIGKILL: {alive}"
        return [p.pid for p in tree]

    def stop(self, timeout: float = 60.0) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=10)

    def __enter__(self) -> LocalCloudProcess:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()
