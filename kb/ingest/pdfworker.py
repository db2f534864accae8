"""Parse PDFs in a separate worker process with a time limit and a memory limit.

PDF files are untrusted input: a malformed file can make a parser loop for minutes or allocate
gigabytes (decompression bombs, deeply nested objects). The main process therefore never parses
a PDF itself. It talks to one long-lived worker (``python kb/pdfworker.py``, reused for every
PDF of a build, restarted only after it was killed) over pipes:

* start: the worker writes ``{"ready": true}`` once pypdf is imported and its memory limit set;
  a file's time limit starts only then, so a slow start on a busy machine is not taken for a
  slow PDF (the start has its own limit, ``START_TIMEOUT``)
* request: one JSON line ``{"op": "extract", "path": "..."}``
* reply: one JSON line ``{"ok": true, "pages": [str, ...], "headings": [[str, ...], ...],
  "images": int}`` or ``{"ok": false, "kind": "...", "reason": "..."}``.

Only plain JSON crosses the process boundary (lists of strings and numbers): nothing is
pickled. The worker limits its own address space with ``RLIMIT_AS`` (``KB_PDF_MAX_MB``, default
1536 MiB) so an exploding parse ends in a ``MemoryError`` (reported) or the worker's death
(reported), never in the host running out of memory. The parent kills the worker when one file
takes longer than ``KB_PDF_TIMEOUT`` seconds (default 120) and starts a fresh one for the next file.

The worker module imports only the standard library and pypdf, so it starts in ~0.2 s.
"""
from __future__ import annotations

import json
import os
import sys

DEFAULT_TIMEOUT = 120.0
START_TIMEOUT = 60.0  # seconds a new worker may take to import pypdf and say it is ready
DEFAULT_MAX_MB = 1536


# ==== worker side (runs in the child process) ================================================


def _page_text(page) -> tuple[str, list[str]]:
    """The page's text and its lines set in a heading style: bold, or larger than the page's
    body text, and a single text run (a table's bold column-heading row has one run per cell).

    Uses pypdf's text visitor (font and size of every text run). Returns the line texts with
    whitespace collapsed; the parent marks matching lines of the extracted text as headings.
    """
    runs: list[tuple[float, str, float, bool]] = []  # (y, text, size, bold)

    def visit(text, cm, tm, font_dict, font_size):
        if not text or not text.strip():
            return
        try:
            y = float(tm[5]) * float(cm[3]) + float(cm[5])
            size = abs(float(font_size) * float(tm[3]) * float(cm[3])) or float(font_size)
        except (TypeError, ValueError, IndexError):
            return
        name = ""
        if font_dict is not None:
            try:
                name = str(font_dict.get("/BaseFont", ""))
            except Exception:
                name = ""
        bold = any(w in name.lower() for w in ("bold", "black", "heavy", "semibold"))
        runs.append((round(y, 1), text, size, bold))

    text = page.extract_text(visitor_text=visit) or ""
    return text, _heading_runs(runs)


def _heading_runs(runs: list[tuple[float, str, float, bool]]) -> list[str]:
    if not runs:
        return []
    # body size: the size carrying most characters
    weight: dict[float, int] = {}
    for _, t, s, _b in runs:
        weight[round(s, 1)] = weight.get(round(s, 1), 0) + len(t)
    body = max(weight.items(), key=lambda kv: kv[1])[0]
    lines: list[list[tuple[str, float, bool]]] = []
    last_y = None
    for y, t, s, b in runs:
        if last_y is None or abs(y - last_y) > 0.5 or "\n" in t:
            lines.append([])
        lines[-1].append((t, s, b))
        last_y = y
    out = []
    for ln in lines:
        text = " ".join("".join(t for t, _, _ in ln).split())
        if not text or len(text) > 100:
            continue
        cells = [r for r in ln if r[0].strip()]
        if len(cells) == 1 and all(b or s > body * 1.15 for t, s, b in cells):
            out.append(text)
    return out


def _extract(path: str) -> dict:
    import logging

    from pypdf import PdfReader

    logging.getLogger("pypdf").setLevel(logging.CRITICAL)
    try:
        reader = PdfReader(path)
    except MemoryError:
        raise
    except Exception as e:
        return {"ok": False, "kind": "broken", "reason": f"{type(e).__name__}: {str(e)[:160]}"}
    try:
        if reader.is_encrypted:
            ok: int
            try:
                ok = reader.decrypt("")
            except Exception as e:  # e.g. AES without a crypto library
                name = type(e).__name__
                if name == "DependencyError":
                    return {"ok": False, "kind": "crypto", "reason": str(e)[:160]}
                ok = 0
            if not ok:
                return {"ok": False, "kind": "encrypted", "reason": "needs a password"}
        pages, headings, images = [], [], 0
        for page in reader.pages:
            try:
                text, heads = _page_text(page)
            except MemoryError:
                raise
            except Exception:  # the visitor choked: plain extraction, no heading marks
                text, heads = page.extract_text() or "", []
            pages.append(text)
            headings.append(heads)
            try:
                res = page.get("/Resources")
                res = res.get_object() if res is not None else None
                xobj = res.get("/XObject") if res is not None else None
                xobj = xobj.get_object() if xobj is not None else None
                if xobj:
                    images += sum(1 for k in xobj if xobj[k].get_object().get("/Subtype") == "/Image")
            except Exception:
                pass
        return {"ok": True, "pages": pages, "headings": headings, "images": images}
    except MemoryError:
        raise
    except Exception as e:
        return {"ok": False, "kind": "broken", "reason": f"{type(e).__name__}: {str(e)[:160]}"}


def _limit_memory(max_mb: int) -> None:
    try:
        import resource

        limit = max_mb * 1024 * 1024
        soft, hard = resource.getrlimit(resource.RLIMIT_AS)
        if hard != resource.RLIM_INFINITY:
            limit = min(limit, hard)
        resource.setrlimit(resource.RLIMIT_AS, (limit, hard))
    except (ImportError, ValueError, OSError):  # not on this platform: the timeout still applies
        pass


def _handle(req: dict) -> dict:
    op = req.get("op")
    if op == "extract":
        return _extract(str(req["path"]))
    if op == "ping":
        return {"ok": True}
    # test hooks: prove that a hanging or exploding parse is contained
    if op == "_test_hang":
        import time

        while True:
            time.sleep(1)
    if op == "_test_oom":
        hog = []
        while True:
            hog.append(bytearray(64 * 1024 * 1024))
    if op == "_test_crash":
        os._exit(70)
    return {"ok": False, "kind": "error", "reason": f"unknown request {op!r}"}


def worker_main() -> None:
    import pypdf  # noqa: F401  (import before the memory limit is set)

    _limit_memory(int(os.environ.get("KB_PDF_MAX_MB") or DEFAULT_MAX_MB))
    out = sys.stdout
    out.write(json.dumps({"ready": True}) + "\n")
    out.flush()
    for line in sys.stdin:
        if not line.strip():
            continue
        try:
            req = json.loads(line)
            try:
                reply = _handle(req)
            except MemoryError:
                reply = None
            if reply is None:
                import gc

                gc.collect()
                reply = {"ok": False, "kind": "memory", "reason": "parsing needs more memory than allowed"}
        except Exception as e:  # never die on one request
            reply = {"ok": False, "kind": "error", "reason": f"{type(e).__name__}: {str(e)[:160]}"}
        out.write(json.dumps(reply, ensure_ascii=False) + "\n")
        out.flush()


# ==== parent side ==============================================================================


class WorkerError(Exception):
    """The worker did not answer: timed out, crashed or was killed (one-line message)."""


class PdfWorker:
    """A reusable worker process. ``request()`` sends one request and waits for its reply."""

    def __init__(self, timeout: float | None = None, max_mb: int | None = None) -> None:
        self.timeout = float(timeout if timeout is not None else os.environ.get("KB_PDF_TIMEOUT") or DEFAULT_TIMEOUT)
        self.max_mb = int(max_mb if max_mb is not None else os.environ.get("KB_PDF_MAX_MB") or DEFAULT_MAX_MB)
        self._proc = None
        self.started = 0  # how many worker processes were started (for tests and diagnostics)

    def _start(self):
        """A new worker process, once it has said it is ready (:data:`START_TIMEOUT`)."""
        import subprocess

        env = dict(os.environ, KB_PDF_MAX_MB=str(self.max_mb), PYTHONIOENCODING="utf-8")
        self._proc = subprocess.Popen(
            [sys.executable, os.path.abspath(__file__)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            env=env,
            close_fds=True,
        )
        self.started += 1
        try:
            ready = self._reply(self._proc, START_TIMEOUT, f"the PDF worker did not start within {START_TIMEOUT:g} s")
        except WorkerError as e:
            raise WorkerError(f"the PDF worker could not be started: {e}") from None
        if ready != {"ready": True}:
            self.close()
            raise WorkerError("the PDF worker could not be started")
        return self._proc

    def close(self) -> None:
        p, self._proc = self._proc, None
        if p is None:
            return
        try:
            if p.poll() is None:
                p.kill()
            p.wait(timeout=5)
        except Exception:
            pass
        for f in (p.stdin, p.stdout):
            try:
                f.close()
            except Exception:
                pass

    def request(self, req: dict, timeout: float | None = None) -> dict:
        timeout = self.timeout if timeout is None else timeout
        p = self._proc if self._proc is not None and self._proc.poll() is None else self._start()
        try:
            p.stdin.write((json.dumps(req) + "\n").encode("utf-8"))
            p.stdin.flush()
        except (BrokenPipeError, OSError):
            self.close()
            raise WorkerError("the PDF worker could not be started") from None
        return self._reply(p, timeout, f"parsing took longer than {timeout:g} s (stopped)")

    def _reply(self, p, timeout: float, too_slow: str) -> dict:
        """The worker's next JSON line within ``timeout`` seconds. Raises :class:`WorkerError` (and
        stops the worker) with ``too_slow`` when it takes longer, or when the worker died or sent
        no JSON object."""
        import select
        import time

        deadline = time.monotonic() + timeout
        fd = p.stdout.fileno()
        buf = bytearray()
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                self.close()
                raise WorkerError(too_slow)
            ready, _, _ = select.select([fd], [], [], left)
            if not ready:
                continue
            chunk = os.read(fd, 1 << 20)
            if not chunk:  # the worker died
                code = p.wait()
                self.close()
                if code < 0 and -code == 9:
                    raise WorkerError("the parser was killed (out of memory?)")
                if code in (-11, -6, -7):
                    raise WorkerError(f"the parser crashed (signal {-code})")
                raise WorkerError(f"the parser stopped unexpectedly (exit code {code}; out of memory?)")
            buf += chunk
            if buf.endswith(b"\n"):
                break
        try:
            reply = json.loads(buf.decode("utf-8"))
        except ValueError:
            self.close()
            raise WorkerError("the PDF worker sent a garbled reply") from None
        if not isinstance(reply, dict):
            raise WorkerError("the PDF worker sent a garbled reply")
        return reply


_WORKER: PdfWorker | None = None


def shared_worker() -> PdfWorker:
    """The process-wide worker (started on first use, stopped at exit)."""
    global _WORKER
    if _WORKER is None:
        import atexit

        _WORKER = PdfWorker()
        atexit.register(_WORKER.close)
    return _WORKER


def extract_pdf(path: str, worker: PdfWorker | None = None) -> dict:
    """Extract a PDF through the worker; returns the worker's plain-JSON reply.

    Raises :class:`WorkerError` when the worker timed out or died. The reply is validated to
    be plain data of the expected shape.
    """
    w = worker or shared_worker()
    reply = w.request({"op": "extract", "path": str(path)})
    if reply.get("ok"):
        pages, heads = reply.get("pages"), reply.get("headings", [])
        if not (isinstance(pages, list) and all(isinstance(p, str) for p in pages)):
            raise WorkerError("the PDF worker sent a malformed reply")
        if not (isinstance(heads, list)
                and all(isinstance(h, list) and all(isinstance(s, str) for s in h) for h in heads)):
            heads = [[] for _ in pages]
        reply["headings"] = heads + [[] for _ in range(len(pages) - len(heads))]
        reply["images"] = int(reply.get("images") or 0)
    return reply


if __name__ == "__main__":
    worker_main()
