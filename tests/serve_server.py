"""A real ``kb serve`` process for the tests and the load bench: uvicorn on a free port of 127.0.0.1.

``Served(index, keys=..., workers=..., env=...)`` starts ``python -m kb.cli serve`` in its own
process group, waits for ``/v1/health`` and stops the group (the uvicorn workers too) on exit.
"""
from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parent.parent


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Served:
    def __init__(self, index: str | Path, keys: Path | None = None, workers: int = 1, env: dict | None = None,
                 extra: tuple[str, ...] = (), log: Path | None = None) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        cmd = [sys.executable, "-m", "kb.cli", "serve", "--index", str(index), "--port", str(self.port),
               "--workers", str(workers), *extra]
        if keys is not None:
            cmd += ["--keys", str(keys)]
        self.cmd = cmd
        self.env = {**os.environ, "PYTHONPATH": str(ROOT), **(env or {})}
        self.log = log
        self.proc: subprocess.Popen | None = None

    def start(self, timeout: float = 90.0) -> Served:
        out = open(self.log, "ab") if self.log else subprocess.DEVNULL
        self.proc = subprocess.Popen(self.cmd, cwd=ROOT, env=self.env, stdout=out, stderr=subprocess.STDOUT,
                                     start_new_session=True)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                tail = self.log.read_text(errors="replace")[-2000:] if self.log else ""
                raise RuntimeError(f"kb serve exited with {self.proc.returncode}: {tail}")
            try:
                if httpx.get(self.url + "/v1/health", timeout=2).status_code == 200:
                    return self
            except httpx.HTTPError:
                pass
            time.sleep(0.2)
        self.stop()
        raise RuntimeError(f"kb serve did not answer on {self.url} within {timeout} s")

    def stop(self) -> None:
        if self.proc is None or self.proc.poll() is not None:
            return
        os.killpg(self.proc.pid, signal.SIGTERM)
        try:
            self.proc.wait(20)
        except subprocess.TimeoutExpired:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(10)

    def __enter__(self) -> Served:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()
