"""A real Milvus server process for the tests and benches: ``milvus-lite server`` on 127.0.0.1.

Milvus Lite speaks the same gRPC API as a Milvus cluster. The tests need it: when it is not
installed they fail with the install command (``pip install 'kb[milvus]'``), they never skip.
"""
from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest


def lite_executable() -> str:
    """The ``milvus-lite`` command (``KB_TEST_MILVUS_LITE``, beside this Python, or on PATH)."""
    for cand in (os.environ.get("KB_TEST_MILVUS_LITE"), str(Path(sys.executable).parent / "milvus-lite"),
                 shutil.which("milvus-lite")):
        if cand and Path(cand).is_file():
            return cand
    raise RuntimeError("milvus-lite is not installed; run: pip install 'kb[milvus]' (test.sh does)")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class LiteServer:
    """One ``milvus-lite server`` process on 127.0.0.1 with its data folder; start/stop/kill."""

    def __init__(self, data_dir: Path, port: int | None = None) -> None:
        self.data_dir = Path(data_dir)
        self.port = port or free_port()
        self.proc: subprocess.Popen | None = None
        self.log = self.data_dir.with_suffix(".log")

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.port}"

    def uri(self, collection: str) -> str:
        return f"milvus://{self.address}/{collection}"

    def start(self, timeout: float = 60.0) -> LiteServer:
        cmd = [lite_executable(), "server", "--data-dir", str(self.data_dir), "--host", "127.0.0.1",
               "--port", str(self.port)]
        self.proc = subprocess.Popen(cmd, stdout=open(self.log, "ab"), stderr=subprocess.STDOUT, start_new_session=True)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"milvus-lite exited with {self.proc.returncode}: {self.log.read_text()[-2000:]}")
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=1):
                    return self
            except OSError:
                time.sleep(0.2)
        self.stop()
        raise RuntimeError(f"milvus-lite did not listen on {self.address} within {timeout} s")

    def kill(self) -> None:
        """SIGKILL, as a crash."""
        if self.proc is not None and self.proc.poll() is None:
            os.kill(self.proc.pid, signal.SIGKILL)
            self.proc.wait(10)

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                self.kill()
        self.proc = None

    def restart(self) -> None:
        self.stop()
        self.start()


@pytest.fixture(scope="session")
def milvus(tmp_path_factory) -> LiteServer:
    """A Milvus server for the session (import this fixture into a test module to use it)."""
    try:
        server = LiteServer(tmp_path_factory.mktemp("milvus") / "data.db").start()
    except RuntimeError as e:
        pytest.fail(str(e))
    yield server
    server.stop()
