"""Whether localcloud's two ports are free, and if not, who holds them, in words a user can act on.

``localcloud up`` (and tools that start one, such as the project's demo) call :func:`port_problems`
before starting a server, so a taken port is reported as "port 3000 (--api-port) is taken by ... :
use --api-port N" instead of uvicorn's ``Errno 98`` and an exit code. A holder is recognised as
localcloud by its health document (``/_localcloud/health`` on the edge port, which names its pid and
state dir) or, for the API port, by the command line of the listening process (psutil; skipped where
the OS does not allow it). Relies on the standard library and psutil.
"""

from __future__ import annotations

import json
import socket
import urllib.error
import urllib.request
from typing import Any

import psutil

from .config import Settings


def is_free(host: str, port: int) -> bool:
    """True when a server could listen on ``host:port`` now."""
    with socket.socket() as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError:
            return False
    return True


def localcloud_health(url: str, timeout: float = 2.0) -> tuple[dict[str, Any] | None, str]:
    """(health document if a localcloud answers at ``url``, what answered in words)."""
    try:
        with urllib.request.urlopen(f"{url}/_localcloud/health", timeout=timeout) as resp:
            body = resp.read()
            code = resp.status
    except urllib.error.HTTPError as err:
        body, code = err.read(), err.code
    except (OSError, ValueError) as exc:
        return None, f"no HTTP answer ({getattr(exc, 'reason', exc)})"
    try:
        doc = json.loads(body)
    except ValueError:
        doc = None
    if isinstance(doc, dict) and doc.get("status") in ("running", "starting", "failed"):
        return doc, f"localcloud ({doc['status']})"
    return None, f"http {code}"


def _listener(port: int) -> psutil.Process | None:
    try:
        for conn in psutil.net_connections(kind="tcp"):
            if conn.status == psutil.CONN_LISTEN and conn.laddr and conn.laddr.port == port and conn.pid:
                return psutil.Process(conn.pid)
    except (psutil.Error, OSError):
        return None
    return None


def _is_localcloud_process(proc: psutil.Process | None) -> bool:
    """``python -m localcloud up ...`` or the ``localcloud up ...`` console script."""
    try:
        args = proc.cmdline() if proc is not None else []
    except psutil.Error:
        return False
    named = any(a == "localcloud" or a.endswith("/localcloud") for a in args)
    return named and "up" in args


def _holder(proc: psutil.Process | None) -> str:
    try:
        return f" (pid {proc.pid}: {' '.join(proc.cmdline())[:60]})" if proc else ""
    except psutil.Error:
        return f" (pid {proc.pid})" if proc else ""


def port_problems(settings: Settings) -> list[str]:
    """One sentence per taken port: who holds it and what to do; empty when both are free."""
    problems = []
    edge_doc, edge_answer = localcloud_health(settings.edge_url)
    for port, option in ((settings.port, "--port"), (settings.api_port, "--api-port")):
        if is_free(settings.host, port):
            continue
        if option == "--port" and edge_doc is not None:
            state = edge_doc.get("stateDir") or "unknown"
            problems.append(
                f"port {port} ({option}) is taken by a localcloud already running "
                f"(pid {edge_doc.get('pid', '?')}, state dir {state}): use it, stop it with "
                f"`localcloud stop --state-dir {state}`, or pick another port with {option} N"
            )
            continue
        proc = _listener(port)
        if _is_localcloud_process(proc):
            problems.append(
                f"port {port} ({option}) is taken by another localcloud{_holder(proc)}: stop it with "
                f"`localcloud stop --state-dir DIR`, or pick another port with {option} N"
            )
            continue
        answer = f"; it answered {edge_answer}" if option == "--port" else ""
        problems.append(
            f"port {port} ({option}) is taken by another program, not localcloud{_holder(proc)}{answer}: "
            f"stop that program or pick another port with {option} N"
        )
    return problems
