"""``kb ingest --index milvus://…``: incremental, resumable ingest into a Milvus collection.

The same steps as a folder build (scan + hashes, read, chunk, analyse, embed with the cache),
then rows are written in batches instead of a generation:

1. **Plan**: every file's SHA-256 against the document rows stored in ``NAME__docs``. A document
   whose content, path and build configuration are unchanged is skipped without being read.
2. **Lexicon and statistics first**: the lexicon (corpus vocabulary for conflation and
   compounds) is recomputed from the stored texts plus the new ones, and the final passage
   count and mean length (``avgdl``) are predicted from the stored per-document sums plus a
   first analysis pass over the new documents, so new passages get their final BM25 weights.
3. **Write, one document at a time, in batches**: its passages are upserted (vectors, BM25
   sparse vector, record) with their evidence sentences (split and embedded exactly as the folder
   build does, :mod:`kb.sentences`, through the same embedding cache), then passages and
   sentences of any older version are deleted, then its text is
   written and then its ``NAME__docs`` row: a document row means "this version is completely
   stored". The old version's text goes last. A new document (after a completed ingest) is
   inserted, not upserted. Removed documents are deleted: passages, sentences, text, row last.
4. **Commit**: document frequencies, ``N`` and the length sum, the lexicon and the manifest.

Crash safety: the ingest marks itself ``writing`` in ``NAME__meta`` first and ``done`` last.
A re-run finds complete documents by their rows and redoes the others (upserts by passage id,
so nothing is duplicated); after an interrupted run it recounts the statistics from the stored
passages and deletes passages, sentences and text no document row claims. A document row
records the layout and build configuration it was written with, so a document written by an
older run (another configuration, or a collection of layout 1 without sentences) is rewritten
even when the run that started rewriting it was interrupted. The result equals a clean build.

A reader during a replace sees, for that one document, for a moment the new passages next to
old passages with higher ordinals (between the upsert and the delete), and until the commit
new terms carry no weight (their df is still 0) and ``N`` is the old one. Every other document
is untouched; no search fails.

Re-weighting: the document side of BM25 depends on ``avgdl`` (kb.sparse). Each passage stores
the ``avgdl`` it was weighted with; when the collection's mean length has drifted more than
``reweight_tolerance`` (default 2 %) from it, the commit step re-analyses those passages with
the current lexicon and rewrites their sparse vectors.
"""
from __future__ import annotations

import json
import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from dataclasses import replace as replace_report
from pathlib import Path
from typing import Any

from .. import sparse, store
from ..analyze import Analyzer
from ..embed import get_embedder
from ..errors import KBError
from ..ingest import guard
from ..ingest.config import BuildConfig
from ..ingest.plan import Planned, real_path, scan
from ..ingest.prepare import corpus_lexicon, read_planned
from ..ingest.report import BuildReport
from ..manifest import EmbedderInfo, Manifest
from ..records import Document, Failure
from .index import check_format
from .store import (
    LAYOUT,
    SENTENCE_FIELDS,
    SENTENCES,
    Connection,
    create_collections,
    create_sentences,
    dense_index,
    exists,
    load,
    meta_get,
    meta_put,
    parse_location,
    query_all,
    quote,
    write_lexicon,
)
from .terms import recount
from .writer import Writer, reweight, written_with

__all__ = ["Writer", "commit", "create_for", "ingest_milvus", "manifest_of"]

Progress = Callable[[str, int, int], None]


def _noop(stage: str, done: int, total: int) -> None:
    pass


def read_todo(todo: Sequence[Planned], progress: Progress) -> tuple[list[Document], list[Failure]]:
    """Step 2: read the planned documents that must be (re)written."""
    docs: list[Document] = []
    failures: list[Failure] = []
    for i, p in enumerate(todo):
        progress("read", i, len(todo))
        doc = read_planned(p)
        if isinstance(doc, Failure):
            failures.extend(Failure(path, doc.reason) for path in p.paths)
        else:
            docs.append(doc)
    progress("read", len(todo), len(todo))
    return docs, failures


def stored_docs(conn: Connection) -> dict[str, dict[str, Any]]:
    return {r["key"]: dict(json.loads(r["value"]), version=r["version"])
            for r in query_all(conn, conn.loc.side("docs"), "", ["key", "version", "value"])}


def stored_text(conn: Connection, doc_id: str, version: str) -> str:
    expr = f"doc_id == {quote(doc_id)} and version == {quote(version)}"
    return "".join(r["value"] for r in sorted(query_all(conn, conn.loc.side("text"), expr, ["key", "value"]),
                                              key=lambda r: r["key"]))


def passage_count(conn: Connection, collection: str | None = None) -> int:
    """Rows in the passage collection (or in ``collection``)."""
    rows = conn.query(collection or conn.loc.collection, filter="", output_fields=["count(*)"],
                      consistency_level="Strong")
    return int(rows[0]["count(*)"]) if rows else 0


def open_for_ingest(conn: Connection, model_id: str) -> Manifest | None:
    """The stored manifest (None when the collection does not exist yet or its first ingest died
    before writing one); refuses a collection of another format version or embedder with the
    folder index's messages."""
    if not exists(conn):
        return None
    load(conn)
    data = meta_get(conn, "manifest")
    if data is None:
        return None
    prev = check_format(data, str(conn.loc))
    store.check_embedder(prev, model_id, str(conn.loc))
    return prev


def stored_embedder(location: str) -> str | None:
    """The embedder spec the collection was built with (None: no collection or no manifest)."""
    conn = Connection(parse_location(location))
    try:
        data = None
        if exists(conn):
            load(conn)  # a restarted server brings collections back released
            data = meta_get(conn, "manifest")
    finally:
        conn.close()
    return Manifest.from_json(data).embedder.spec or None if isinstance(data, dict) else None


PASSAGE_FIELDS = frozenset({"chunk_id", "doc_id", "version", "ordinal", "year", "organisation", "doc_type", "record",
                            "dlen", "avgdl", "dense", "sparse"})
SIDE_FIELDS = {"docs": frozenset({"key", "doc_id", "version", "value", "v"}),
               "text": frozenset({"key", "doc_id", "version", "value", "v"}),
               "meta": frozenset({"key", "doc_id", "version", "value", "v"}),
               "terms": frozenset({"key", "term_id", "df", "v"}),
               SENTENCES: frozenset({*SENTENCE_FIELDS, "doc_id"})}


def refuse_foreign(conn: Connection) -> None:
    """Refuse, before anything is created, a collection of this name (or of one of its side
    names) whose fields are not the ones kb makes: another tool's collection."""
    wanted = {conn.loc.collection: PASSAGE_FIELDS, **{conn.loc.side(k): f for k, f in SIDE_FIELDS.items()}}
    for name, fields in wanted.items():
        if not conn.has_collection(name):
            continue
        found = {f["name"] for f in conn.describe_collection(name).get("fields", [])}
        if found != fields:
            raise KBError(f"the collection {name!r} at {conn.loc.address} was not made by kb (its fields: "
                          f"{', '.join(sorted(found))[:200]}); nothing was changed. Choose another collection "
                          "name in the milvus:// address")


def create_for(conn: Connection, dim: int, passages: int) -> None:
    """Create the collections for an expected number of passages (which picks the dense index)."""
    create_collections(conn, dim, dense_index(passages))
    load(conn)
    meta_put(conn, {"dense_index": dense_index(passages)})


@dataclass(frozen=True)
class MilvusPlan:
    """Step 1 against the collection: the planned documents (:func:`kb.ingest.plan.scan`) compared
    with the stored document rows."""

    planned: tuple[Planned, ...]  # sorted by doc_id
    failures: tuple[Failure, ...]
    prev: Manifest | None
    existed: bool
    state: dict[str, Any]  # the ingest state of the last run (writing / done)
    stored: dict[str, dict[str, Any]]  # doc_id -> its stored row
    unchanged: tuple[Planned, ...]
    todo: tuple[Planned, ...]
    removed: tuple[str, ...]

    def is_noop(self, config: BuildConfig) -> bool:
        return not self.todo and not self.removed and self.same(config) and self.state.get("state") == "done"

    def same(self, config: BuildConfig) -> bool:
        return self.prev is not None and self.prev.config == config.to_json() and self.prev.layout == LAYOUT


def plan_milvus(conn: Connection, paths: Sequence[Path], config: BuildConfig, model_id: str,
                corpus_root: Path | None, follow_symlinks: bool) -> MilvusPlan:
    found = scan(paths, corpus_root, follow_symlinks)
    planned = tuple(sorted(found.documents, key=lambda d: d.doc_id))
    prev = open_for_ingest(conn, model_id)
    existed = exists(conn)
    state = (meta_get(conn, "ingest") or {}) if existed else {}
    stored = stored_docs(conn) if existed else {}
    # a collection whose sentences were dropped is rewritten completely (its sentences rebuilt)
    same = (prev is not None and prev.config == config.to_json() and prev.layout == LAYOUT
            and conn.has_collection(conn.loc.side(SENTENCES)))
    ww = written_with(config)
    unchanged = tuple(p for p in planned if same and stored.get(p.doc_id, {}).get("sha256") == p.sha256
                      and stored[p.doc_id]["path"] == p.path and stored[p.doc_id].get("written_with") == ww)
    keep = {p.doc_id for p in unchanged}
    return MilvusPlan(planned, found.bad, prev, existed, state, stored, unchanged,
                      todo=tuple(p for p in planned if p.doc_id not in keep),
                      removed=tuple(sorted(set(stored) - {p.doc_id for p in planned})))


def ingest_milvus(
    paths: Sequence[Path], location: str, config: BuildConfig = BuildConfig(), progress: Progress = _noop,
    corpus_root: Path | None = None, cache_dir: Path | None = None, reweight_tolerance: float = 0.02,
    follow_symlinks: bool = False, replace: bool = False,
) -> BuildReport:
    """Index the files under ``paths`` into ``milvus://HOST:PORT/COLLECTION`` (incremental). The
    folder build's guard applies: no removal of documents outside ``paths`` and no emptying of
    the collection unless ``replace``."""
    t0 = time.perf_counter()
    sparse.check_params(config.bm25)
    conn = Connection(parse_location(location))
    refuse_foreign(conn)
    embedder = get_embedder(config.embedder)
    plan = plan_milvus(conn, paths, config, embedder.model_id, corpus_root, follow_symlinks)
    stored, failures = plan.stored, list(plan.failures)
    if plan.is_noop(config):
        return _report(location, False, plan, [], [], failures, t0)
    guard.check_removals({stored[i].get("real") or real_path(stored[i]["path"]): stored[i]["path"]
                          for i in plan.removed}, [Path(p) for p in paths], location, replace)
    version = uuid.uuid4().hex[:16]
    docs, bad = read_todo(plan.todo, progress)
    failures += bad
    refusal = guard.publish_refusal(len(docs) + len(plan.unchanged), len(stored), location, replace,
                                    len(failures))
    if refusal:
        return replace_report(_report(location, False, plan, [], [], failures, t0), refused=refusal,
                              documents=len(stored), passages=sum(d["n"] for d in stored.values()))
    w, removed, stats = write_all(conn, plan, docs, config, embedder, cache_dir, version, progress,
                                  reweight_tolerance)
    return replace_report(_report(location, True, plan, docs, removed, failures, t0, w, passages=stats.n_docs),
                          embedded_sentences=w.embedded_sentences)


def write_all(conn: Connection, plan: MilvusPlan, docs: Sequence[Document], config: BuildConfig, embedder,
              cache_dir: Path | None, version: str, progress: Progress,
              tolerance: float) -> tuple[Writer, list[str], sparse.CorpusStats]:
    """Write the read documents, remove the others, commit the statistics and the manifest."""
    stored = plan.stored
    # not marked done but holding passages: the last run was interrupted (or lost writes in a crash)
    interrupted = plan.existed and plan.state.get("state") != "done" and passage_count(conn) > 0
    read_ids = {d.doc_id for d in docs}
    removed = [*plan.removed, *(p.doc_id for p in plan.todo if p.doc_id in stored and p.doc_id not in read_ids)]
    lexicon = corpus_lexicon([stored_text(conn, p.doc_id, stored[p.doc_id]["version"]) for p in plan.unchanged])
    for d in docs:
        lexicon.update({w: lexicon.get(w, 0) + n for w, n in corpus_lexicon([d.text]).items()})
    w = Writer(conn, config, Analyzer(config.analyzer, lexicon), cache_dir, version, interrupted, progress, embedder)
    final = predict_stats(w, docs, [stored[p.doc_id] for p in plan.unchanged])
    manifest = open_collection(conn, plan, config, w.model, final.n_docs, version)
    for d in docs:  # a document never stored, after a completed ingest, is inserted
        w.write(d, final.avgdl, fresh=not interrupted and d.doc_id not in stored)
    for doc_id in removed:
        w.remove(doc_id)
    w.save_cache()
    stats = commit(w, conn, final, lexicon, tolerance)
    done = replace_report(manifest, created=time.strftime("%Y-%m-%dT%H:%M:%S%z"), build=version)
    meta_put(conn, {"manifest": done.to_json(), "ingest": {"state": "done", "build": version, "stats": asdict(stats)}})
    conn.flush(conn.loc.collection)
    return w, removed, stats


def predict_stats(w: Writer, docs: Sequence[Document], kept: Sequence[dict[str, Any]]) -> sparse.CorpusStats:
    """The collection's passage count and length sum once ``docs`` are written next to the kept
    document rows (a first analysis pass, so new passages get their final BM25 weights)."""
    sizes = [(len(ts), sum(map(len, ts))) for ts in (w.analyse(d)[1] for d in docs)]
    w.total = sum(n for n, _ in sizes)
    return sparse.CorpusStats(sum(r["n"] for r in kept) + w.total,
                              sum(r["total_len"] for r in kept) + sum(t for _, t in sizes))


def open_collection(conn: Connection, plan: MilvusPlan, config: BuildConfig, model: EmbedderInfo,
                    passages: int, version: str) -> Manifest:
    """Create the collections (or the sentences of a collection of layout 1), mark the ingest
    ``writing`` and store the manifest; returns it."""
    if not plan.existed:
        create_for(conn, model.dim, passages)
    else:  # a collection of layout 1 gets its sentences
        create_sentences(conn, model.dim)
        load(conn)
    meta_put(conn, {"ingest": {"state": "writing", "build": version}})
    manifest = manifest_of(plan.prev, config, model, meta_get(conn, "dense_index"), version)
    meta_put(conn, {"manifest": manifest.to_json()})
    return manifest


def manifest_of(prev: Manifest | None, config: BuildConfig, model: EmbedderInfo, dense: dict[str, Any],
                version: str) -> Manifest:
    """The collection's manifest: the folder manifest's keys that describe the whole index."""
    now = time.strftime("%Y-%m-%dT%H:%M:%S%z")
    return Manifest(
        format_version=store.FORMAT_VERSION, layout=LAYOUT,
        created=prev.created if prev is not None and prev.created is not None else now,
        embedder=model, config=config.to_json(), dense_index=dense,
        build=prev.build if prev is not None and prev.build is not None else version,
    )


def commit(w: Writer, conn: Connection, final: sparse.CorpusStats, lexicon: dict[str, int],
           tolerance: float) -> sparse.CorpusStats:
    """Statistics (counted along, or recounted after an interruption), lexicon, re-weighting."""
    docs = stored_docs(conn)
    if w.recount:
        stats = recount(conn, docs)
    else:
        w.table.commit()
        stats = final
    sentences = passage_count(conn, conn.loc.side(SENTENCES))
    meta_put(conn, {"stats": {"n": stats.n_docs, "total_len": stats.total_len, "sentences": sentences}})
    write_lexicon(conn, lexicon)
    n, stats = reweight(w, docs, stats, tolerance)
    if n:
        meta_put(conn, {"stats": {"n": stats.n_docs, "total_len": stats.total_len, "sentences": sentences}})
    return stats


def _report(location: str, rebuilt: bool, plan: MilvusPlan, docs: Sequence[Document], removed: Sequence[str],
            failures: Sequence[Failure], t0: float, w: Writer | None = None,
            passages: int | None = None) -> BuildReport:
    stored = plan.stored
    kept = {p.doc_id for p in plan.unchanged} | {d.doc_id for d in docs}
    if passages is None:
        passages = sum(stored[i]["n"] for i in kept)
    return BuildReport(
        index=location, rebuilt=rebuilt,
        added=tuple(d.path for d in docs if d.doc_id not in stored),
        updated=tuple(d.path for d in docs if d.doc_id in stored),
        unchanged=tuple(p.path for p in plan.unchanged),
        removed=tuple(stored[i]["path"] for i in removed if i in stored),
        failed=tuple(failures), documents=len(kept), passages=passages,
        embedded=w.embedded if w is not None else 0,
        seconds=time.perf_counter() - t0, embed_seconds=w.embed_seconds if w is not None else 0.0,
    )
