"""Load test of ``kb serve``: concurrent clients on 127.0.0.1, with and without a re-ingest.

    python bench/serve_load.py --index /path/to/index [--clients 16] [--workers 2] [--seconds 30]

The index is copied to a temporary folder (never written to), served by ``kb serve`` with a key
file and ``--workers`` uvicorn processes, and ``--clients`` threads (one HTTP connection each) send
the dev questions, three searches for each ask, for ``--seconds`` (phase "steady"). In phase
"re-ingest" the same load runs while ``kb ingest`` publishes new generations into the served copy
(a new small report each time, so the embedder only embeds that one). Prints a Markdown table of
p50/p95 per endpoint and phase with the request and error counts (any status but 200, or a failed
connection, is an error), and writes the figures as JSON with ``--out``. Bounded: each phase stops
after ``--seconds`` or ``--max-requests``. Run by hand; not part of the test suite.
"""
from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import httpx
import numpy as np

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))
DEV = ROOT / "eval" / "dev.jsonl"

from serve_server import Served  # noqa: E402

from kb.serve.keys import add_key  # noqa: E402


class Load:
    """Closed-loop clients: each sends its next request when the last one is answered."""

    def __init__(self, url: str, token: str, questions: list[str], clients: int, seconds: float, max_requests: int):
        self.url, self.token, self.questions = url, token, questions
        self.clients, self.seconds, self.max_requests = clients, seconds, max_requests
        self.times: dict[str, list[float]] = {"search": [], "ask": []}
        self.errors: dict[str, list[str]] = {"search": [], "ask": []}
        self.lock = threading.Lock()
        self.sent = 0

    def client(self, n: int, stop: float) -> None:
        with httpx.Client(headers={"Authorization": f"Bearer {self.token}"}, timeout=60) as c:
            i = n
            while time.monotonic() < stop:
                with self.lock:
                    if self.sent >= self.max_requests:
                        return
                    self.sent += 1
                kind = "ask" if i % 4 == 3 else "search"
                q = self.questions[i % len(self.questions)]
                i += self.clients
                t0 = time.perf_counter()
                try:
                    r = c.get(f"{self.url}/v1/{kind}", params={"q": q, "k": 10 if kind == "search" else 5})
                    problem = None if r.status_code == 200 else f"HTTP {r.status_code}: {r.text[:120]}"
                except httpx.HTTPError as e:
                    problem = f"{type(e).__name__}: {e}"
                dt = time.perf_counter() - t0
                with self.lock:
                    (self.errors[kind] if problem else self.times[kind]).append(problem or dt)

    def run(self) -> float:
        stop = time.monotonic() + self.seconds
        threads = [threading.Thread(target=self.client, args=(n, stop)) for n in range(self.clients)]
        t0 = time.perf_counter()
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        return time.perf_counter() - t0

    def summary(self, wall: float) -> dict:
        out = {}
        for kind in ("search", "ask"):
            xs = np.asarray(self.times[kind]) * 1000
            out[kind] = {"requests": len(xs) + len(self.errors[kind]), "errors": len(self.errors[kind]),
                         "p50_ms": round(float(np.percentile(xs, 50)), 1) if len(xs) else None,
                         "p95_ms": round(float(np.percentile(xs, 95)), 1) if len(xs) else None,
                         "first_errors": self.errors[kind][:3]}
        out["requests_per_s"] = round(sum(v["requests"] for v in out.values() if isinstance(v, dict)) / wall, 1)
        return out


def ingest(corpus: Path, index: Path, *extra: str) -> None:
    subprocess.run([sys.executable, "-m", "kb.cli", "ingest", str(corpus), "--index", str(index), "--quiet", *extra],
                   cwd=ROOT, check=True, stdout=subprocess.DEVNULL)


def reingest(corpus: Path, index: Path, stop: threading.Event, done: list[float]) -> None:
    """Publish new generations while the load runs: one small new report each time."""
    n = 0
    while not stop.is_set():
        n += 1
        (corpus / f"bench-tillagg-{n}.txt").write_text(
            f" Tillägg {n}\nKommunen rapporterar {n} nya gatlampor och {n * 3} parkbänkar i tillägg nummer {n}.\n",
            encoding="utf-8")
        t0 = time.perf_counter()
        ingest(corpus, index)
        done.append(time.perf_counter() - t0)
        stop.wait(2.0)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--index", type=Path, required=True, help="a built index of corpus/ (copied, never written)")
    ap.add_argument("--corpus", type=Path, default=ROOT / "corpus")
    ap.add_argument("--clients", type=int, default=16)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--seconds", type=float, default=30.0, help="length of each phase")
    ap.add_argument("--max-requests", type=int, default=20_000, help="per phase")
    ap.add_argument("--out", type=Path, help="write the figures as JSON")
    a = ap.parse_args()
    questions = [json.loads(line)["query"] for line in DEV.read_text(encoding="utf-8").splitlines() if line.strip()]
    work = Path(tempfile.mkdtemp(prefix="kb-serve-load-"))
    try:
        index, corpus = work / "index", work / "corpus"
        shutil.copytree(a.index, index)
        shutil.copytree(a.corpus, corpus)
        ingest(corpus, index, "--replace")  # the copy's documents now come from the corpus copy (no embedding)
        token = add_key(work / "keys.json", "load", "reader", ())
        results = {"clients": a.clients, "workers": a.workers, "seconds": a.seconds}
        with Served(index, keys=work / "keys.json", workers=a.workers, log=work / "serve.log") as s:
            Load(s.url, token, questions, 2, 5, 200).run()  # warm-up: every worker loads its embedder
            load = Load(s.url, token, questions, a.clients, a.seconds, a.max_requests)
            results["steady"] = load.summary(load.run())
            stop, ingests = threading.Event(), []
            t = threading.Thread(target=reingest, args=(corpus, index, stop, ingests))
            load = Load(s.url, token, questions, a.clients, a.seconds, a.max_requests)
            t.start()
            wall = load.run()
            stop.set()
            t.join()
            results["reingest"] = load.summary(wall) | {"generations_published": len(ingests),
                                                          "ingest_s": [round(x, 1) for x in ingests]}
        print_table(results)
        if a.out:
            a.out.write_text(json.dumps(results, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
        errors = sum(results[p][k]["errors"] for p in ("steady", "reingest") for k in ("search", "ask"))
        return 1 if errors else 0
    finally:
        shutil.rmtree(work, ignore_errors=True)


def print_table(r: dict) -> None:
    print(f"{r['clients']} clients, {r['workers']} workers, {r['seconds']:g} s per phase\n")
    print("| phase | endpoint | requests | errors | p50 ms | p95 ms | requests/s (all) |")
    print("|---|---|---:|---:|---:|---:|---:|")
    for phase in ("steady", "reingest"):
        for kind in ("search", "ask"):
            v = r[phase][kind]
            print(f"| {phase} | {kind} | {v['requests']} | {v['errors']} | {v['p50_ms']} | {v['p95_ms']} | "
                  f"{r[phase]['requests_per_s']} |")
    print(f"\nre-ingest: {r['reingest']['generations_published']} generations published during the load "
          f"(kb ingest took {r['reingest']['ingest_s']} s)")
    for phase in ("steady", "reingest"):
        for kind in ("search", "ask"):
            for e in r[phase][kind]["first_errors"]:
                print(f"  {phase} {kind} error: {e}")


if __name__ == "__main__":
    sys.exit(main())
