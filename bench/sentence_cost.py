"""What indexing evidence sentences adds to a cold ingest: seconds to embed the passages and the
distinct evidence sentences of the bundled corpus, each alone, with the default embedder.

    python bench/sentence_cost.py [--corpus corpus] [--repeats 1]

Reads and chunks the corpus as `kb ingest` does (kb.ingest.build.prepare_passages with the default
BuildConfig), then embeds the distinct passage texts and the distinct sentence texts (the cache
keys them by text, so a repeat is embedded once), timing each. Prints the medians and the ratio
(passages + sentences) / passages: the factor by which sentences grow a cold ingest, which is
almost all embedding. Run it on a quiet machine: the embedder uses both cores.
"""
from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from kb.embed import get_embedder  # noqa: E402
from kb.ingest.build import BuildConfig, prepare_passages  # noqa: E402
from kb.ingest.discover import discover_files  # noqa: E402
from kb.ingest.read import make_doc_id, read_document  # noqa: E402


def timed(embed, texts: list[str]) -> float:
    t = time.perf_counter()
    embed(texts)
    return time.perf_counter() - t


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--corpus", type=Path, default=ROOT / "corpus")
    ap.add_argument("--repeats", type=int, default=1)
    a = ap.parse_args()
    config = BuildConfig()
    docs = [read_document(p, make_doc_id(p, a.corpus)) for p in discover_files([a.corpus])[0]]
    passages = prepare_passages(docs, config)
    ptexts = list(dict.fromkeys(passages.texts))
    seen = set(ptexts)
    stexts = [t for t in dict.fromkeys(passages.sentence_texts) if t not in seen]
    embedder = get_embedder(config.embedder)
    embedder.embed_passages(["uppvärmning"])  # load the model outside the timing
    p = statistics.median(timed(embedder.embed_passages, ptexts) for _ in range(a.repeats))
    s = statistics.median(timed(embedder.embed_passages, stexts) for _ in range(a.repeats))
    print(f"embedder {embedder.model_id}; {len(docs)} documents")
    print(f"passages:  {len(ptexts):5d} texts, {p:7.1f} s")
    print(f"sentences: {len(stexts):5d} texts, {s:7.1f} s")
    print(f"cold ingest with sentences / without: {(p + s) / p:.2f}x (median of {a.repeats})")


if __name__ == "__main__":
    main()
