"""How kb lays out an index in Milvus: six collections and the conversion between kb's records and
Milvus rows (the address and the connection: :mod:`kb.milvus.connection`).

A ``milvus://HOST:PORT/NAME`` index is six collections (every Milvus collection needs a vector
field; the four small ones carry a 2-dimensional dummy vector that is never searched):

============== ================================================================================
``NAME``        one row per passage: ``chunk_id`` (primary key), ``doc_id``, ``version`` (the
                document's SHA-256), ``ordinal``, filter fields ``year`` / ``organisation`` /
                ``doc_type`` (scalar INVERTED indexes), the passage record as JSON (text,
                offsets, page/lines, section), ``dlen`` (BM25 length), ``avgdl`` (the mean
                length its BM25 weights were computed with), ``dense`` (FLOAT_VECTOR, IP) and
                ``sparse`` (SPARSE_FLOAT_VECTOR, IP: kb's BM25 document side, see kb.sparse)
``NAME__docs``  one row per document: metadata, path and aliases, SHA-256, passage count and
                length sum; written last, so a row means "this version is completely stored"
``NAME__text``  document text in pieces of at most 16 000 characters (for context and downloads)
``NAME__terms`` the BM25 vocabulary: term (primary key), its sparse dimension ``term_id`` and df
``NAME__meta``  the manifest, the corpus statistics, the lexicon (in pieces), the ingest state
``NAME__sentences`` the evidence sentences of each passage (:mod:`kb.sentences`): ``key``
                ``<chunk_id>#<i>`` (primary key, i = place in the passage), ``chunk_id`` /
                ``doc_id`` / ``version`` (INVERTED), ``start``, ``end``, ``kind``, ``page``,
                ``page_end``, ``line_start``, ``line_end`` (-1 = none) and ``vector``
                (FLOAT_VECTOR, the embedder's vector rounded to float16 as the folder index stores it)
============== ================================================================================

The manifest records the layout version (:data:`LAYOUT`); a collection of an older layout (no
sentences) still searches, cannot answer, and is rewritten completely by the next ingest.
"""
from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from typing import Any

import numpy as np

from ..records import Chunk, DocHead, Filters, Sentence, may_read
from .connection import SCHEME as SCHEME
from .connection import Connection as Connection
from .connection import MilvusError as MilvusError
from .connection import MilvusLocation as MilvusLocation
from .connection import parse_location as parse_location

TEXT_PIECE = 16_000  # characters: at most 64 000 UTF-8 bytes, under VARCHAR's 65 535
SIDE = ("docs", "text", "terms", "meta")
SENTENCES = "sentences"  # the side collection of evidence sentences (layout 2)
LAYOUT = 2  # 1: no evidence sentences; 2: NAME__sentences
SENTENCE_FIELDS = ["key", "chunk_id", "version", "start", "end", "kind", "page", "page_end", "line_start",
                   "line_end", "vector"]


def quote(value: str) -> str:
    """A string literal for a Milvus boolean expression."""
    return json.dumps(value, ensure_ascii=False)


def filter_expr(filters: Filters, heads: Sequence[DocHead] = ()) -> str:
    """The hard filters as a Milvus expression on the scalar-indexed fields ('' for none).

    A reader's access groups (``filters.access``) become the ids of the documents of ``heads``
    (those the index knows) that it may read (:func:`kb.records.may_read`); none: a match of nothing."""
    parts = []
    if filters.access is not None:
        readable = [h.doc_id for h in heads if may_read(h.meta.access, filters.access)]
        parts.append(f"doc_id in [{', '.join(quote(v) for v in readable) or quote('')}]")
    if filters.years:
        parts.append(f"year in [{', '.join(str(int(y)) for y in filters.years)}]")
    for field, values in (("organisation", filters.organisations), ("doc_type", filters.doc_types),
                          ("doc_id", filters.doc_ids)):
        if values:
            parts.append(f"{field} in [{', '.join(quote(v) for v in values)}]")
    return " and ".join(parts)


def chunk_record(chunk: Chunk) -> str:
    return json.dumps(chunk.to_json(), ensure_ascii=False)


def chunk_from_record(record: str) -> Chunk:
    return Chunk(**json.loads(record))


def text_pieces(text: str) -> list[str]:
    return [text[i : i + TEXT_PIECE] for i in range(0, len(text), TEXT_PIECE)] or [""]


def batched(items: Sequence[Any], size: int) -> Iterator[Sequence[Any]]:
    for i in range(0, len(items), size):
        yield items[i : i + size]


def query_all(conn: Connection, collection: str, expr: str, fields: list[str], batch: int = 2000) -> Iterator[dict]:
    """Every row matching ``expr`` (streamed with a query iterator, bounded memory)."""
    it = conn.query_iterator(collection, batch_size=batch, filter=expr, output_fields=fields)
    try:
        while True:
            rows = conn._guard("query", it.next)
            if not rows:
                return
            yield from rows
    finally:
        it.close()


def dense_index(n_passages: int) -> dict[str, Any]:
    """The dense index for an expected collection size: exact FLAT (as the folder index's
    ``IndexFlatIP``) below 50 000 passages, HNSW up to 5 million, IVF_SQ8 above."""
    if n_passages < 50_000:
        return {"index_type": "FLAT", "params": {}, "search": {}}
    if n_passages <= 5_000_000:
        return {"index_type": "HNSW", "params": {"M": 16, "efConstruction": 200}, "search": {"ef": 256}}
    nlist = int(min(65536, 4 * n_passages ** 0.5))
    return {"index_type": "IVF_SQ8", "params": {"nlist": nlist}, "search": {"nprobe": max(16, nlist // 64)}}


def _passage_schema(dim: int):
    from pymilvus import DataType, MilvusClient

    s = MilvusClient.create_schema(auto_id=False, enable_dynamic_field=False)
    s.add_field("chunk_id", DataType.VARCHAR, is_primary=True, max_length=1024)
    s.add_field("doc_id", DataType.VARCHAR, max_length=1024)
    s.add_field("version", DataType.VARCHAR, max_length=64)
    s.add_field("ordinal", DataType.INT64)
    s.add_field("year", DataType.INT64)
    s.add_field("organisation", DataType.VARCHAR, max_length=1024)
    s.add_field("doc_type", DataType.VARCHAR, max_length=256)
    s.add_field("record", DataType.VARCHAR, max_length=65535)
    s.add_field("dlen", DataType.INT64)
    s.add_field("avgdl", DataType.DOUBLE)
    s.add_field("dense", DataType.FLOAT_VECTOR, dim=dim)
    s.add_field("sparse", DataType.SPARSE_FLOAT_VECTOR)
    return s


def _side_schema(kind: str):
    from pymilvus import DataType, MilvusClient

    s = MilvusClient.create_schema(auto_id=False, enable_dynamic_field=False)
    s.add_field("key", DataType.VARCHAR, is_primary=True, max_length=2048)
    if kind == "terms":
        s.add_field("term_id", DataType.INT64)
        s.add_field("df", DataType.INT64)
    else:
        s.add_field("doc_id", DataType.VARCHAR, max_length=1024)
        s.add_field("version", DataType.VARCHAR, max_length=64)
        s.add_field("value", DataType.VARCHAR, max_length=65535)
    s.add_field("v", DataType.FLOAT_VECTOR, dim=2)
    return s


def _sentence_schema(dim: int):
    from pymilvus import DataType, MilvusClient

    s = MilvusClient.create_schema(auto_id=False, enable_dynamic_field=False)
    s.add_field("key", DataType.VARCHAR, is_primary=True, max_length=2048)
    s.add_field("chunk_id", DataType.VARCHAR, max_length=1024)
    s.add_field("doc_id", DataType.VARCHAR, max_length=1024)
    s.add_field("version", DataType.VARCHAR, max_length=64)
    for field in ("start", "end", "page", "page_end", "line_start", "line_end"):
        s.add_field(field, DataType.INT64)
    s.add_field("kind", DataType.VARCHAR, max_length=16)
    s.add_field("vector", DataType.FLOAT_VECTOR, dim=dim)
    return s


def create_sentences(conn: Connection, dim: int) -> None:
    """Create ``NAME__sentences`` unless it exists (the vectors are read, never searched: FLAT)."""
    name = conn.loc.side(SENTENCES)
    if conn.has_collection(name):
        return
    idx = conn.prepare_index_params()
    idx.add_index("vector", index_type="FLAT", metric_type="IP", params={})
    for field in ("chunk_id", "doc_id", "version"):
        idx.add_index(field, index_type="INVERTED")
    conn.create_collection(name, schema=_sentence_schema(dim), index_params=idx)


def sentence_rows(sentences: Sequence[Sentence], vectors: np.ndarray, doc_id: str,
                  version: str) -> list[dict[str, Any]]:
    """Rows of ``NAME__sentences``; ``sentences`` grouped by passage in their order."""
    rows: list[dict[str, Any]] = []
    place: dict[str, int] = {}
    vecs = np.asarray(vectors, dtype=np.float16).astype(np.float32)  # as the folder index stores them
    for s, v in zip(sentences, vecs):
        i = place[s.chunk_id] = place.get(s.chunk_id, -1) + 1
        rows.append({"key": f"{s.chunk_id}#{i}", "chunk_id": s.chunk_id, "doc_id": doc_id, "version": version,
                     "start": s.start, "end": s.end, "kind": s.kind,
                     **{f: -1 if getattr(s, f) is None else getattr(s, f)
                        for f in ("page", "page_end", "line_start", "line_end")},
                     "vector": v.tolist()})
    return rows


def sentence_from_row(row: dict[str, Any]) -> Sentence:
    page, page_end, line_start, line_end = (None if int(row[f]) < 0 else int(row[f])
                                            for f in ("page", "page_end", "line_start", "line_end"))
    return Sentence(row["chunk_id"], int(row["start"]), int(row["end"]), row["kind"], page, page_end,
                    line_start, line_end)


def sentence_place(row: dict[str, Any]) -> int:
    """The place of a sentence row in its passage (from its key)."""
    return int(row["key"].rsplit("#", 1)[1])


QUERY_LIMIT = 16_384  # Milvus's largest query window


def passage_versions(conn: Connection, chunk_ids: Sequence[str]) -> dict[str, str]:
    """The stored version (the id of the ingest run that wrote it) of each of these passages."""
    unique = list(dict.fromkeys(chunk_ids))
    rows = conn.get(conn.loc.collection, ids=unique, output_fields=["version"]) if unique else []
    return {r["chunk_id"]: r["version"] for r in rows}


def read_sentences(conn: Connection, versions: dict[str, str], dim: int,
                   chunk_ids: Sequence[str]) -> tuple[list[Sentence], np.ndarray]:
    """The sentences of passages ``chunk_ids`` (in that order, each in its order) and their vectors;
    only rows of the version ``versions`` names for each passage (a replace in progress may hold
    both for a moment)."""
    side = conn.loc.side(SENTENCES)
    found: dict[str, list[dict[str, Any]]] = {c: [] for c in versions}
    for batch in batched(list(versions), 64):
        expr = f"chunk_id in [{', '.join(quote(c) for c in batch)}]"
        rows = conn.query(side, filter=expr, output_fields=SENTENCE_FIELDS, limit=QUERY_LIMIT)
        if len(rows) >= QUERY_LIMIT:
            rows = list(query_all(conn, side, expr, SENTENCE_FIELDS))
        for r in rows:
            if versions[r["chunk_id"]] == r["version"]:
                found[r["chunk_id"]].append(r)
    ordered = [r for c in chunk_ids for r in sorted(found.get(c, []), key=sentence_place)]
    vecs = np.array([np.asarray(r["vector"], dtype=np.float32) for r in ordered], dtype=np.float32)
    return [sentence_from_row(r) for r in ordered], vecs.reshape(len(ordered), dim)


def create_collections(conn: Connection, dim: int, dense: dict[str, Any]) -> None:
    """Create the six collections with their indexes (those that exist are left alone)."""
    loc = conn.loc
    idx = conn.prepare_index_params()
    # nested as {"params": {...}}: understood by Milvus, and the only form Milvus Lite keeps
    idx.add_index("dense", index_type=dense["index_type"], metric_type="IP",
                  params={"params": dense["params"]} if dense["params"] else {})
    idx.add_index("sparse", index_type="SPARSE_INVERTED_INDEX", metric_type="IP", params={})
    for field in ("doc_id", "year", "organisation", "doc_type", "version"):
        idx.add_index(field, index_type="INVERTED")
    if not conn.has_collection(loc.collection):
        conn.create_collection(loc.collection, schema=_passage_schema(dim), index_params=idx)
    for kind in SIDE:
        if conn.has_collection(loc.side(kind)):
            continue
        sidx = conn.prepare_index_params()
        sidx.add_index("v", index_type="FLAT", metric_type="L2", params={})
        sidx.add_index("term_id" if kind == "terms" else "doc_id", index_type="INVERTED")
        conn.create_collection(loc.side(kind), schema=_side_schema(kind), index_params=sidx)
    create_sentences(conn, dim)


def exists(conn: Connection) -> bool:
    """The collections every layout has exist (``NAME__sentences`` may be missing: layout 1)."""
    return all(conn.has_collection(n) for n in (conn.loc.collection, *(conn.loc.side(k) for k in SIDE)))


def load(conn: Connection) -> None:
    """Load every collection into memory (a restarted server may bring them back released)."""
    from pymilvus.client.types import LoadState

    names = [conn.loc.collection, *(conn.loc.side(k) for k in SIDE)]
    if conn.has_collection(conn.loc.side(SENTENCES)):
        names.append(conn.loc.side(SENTENCES))
    for name in names:
        state = conn.get_load_state(name).get("state")
        if state != LoadState.Loaded:
            conn.load_collection(name)


DUMMY = [0.0, 0.0]


def meta_get(conn: Connection, key: str) -> Any:
    rows = conn.get(conn.loc.side("meta"), ids=[key], output_fields=["value"])
    return json.loads(rows[0]["value"]) if rows else None


def meta_put(conn: Connection, items: dict[str, Any]) -> None:
    rows = [{"key": k, "doc_id": "", "version": "", "value": json.dumps(v, ensure_ascii=False), "v": DUMMY}
            for k, v in items.items()]
    conn.upsert(conn.loc.side("meta"), rows)


def lexicon_pieces(lexicon: dict[str, int], max_bytes: int = 60_000) -> list[dict[str, int]]:
    """The lexicon split into JSON objects of at most ``max_bytes`` each."""
    out: list[dict[str, int]] = [{}]
    size = 2
    for w, n in sorted(lexicon.items()):
        item = len(json.dumps({w: n}, ensure_ascii=False).encode("utf-8"))
        if size + item > max_bytes and out[-1]:
            out.append({})
            size = 2
        out[-1][w] = n
        size += item
    return out


def read_lexicon(conn: Connection) -> dict[str, int]:
    n = meta_get(conn, "lexicon") or {"pieces": 0}
    keys = [f"lexicon/{i:06d}" for i in range(int(n["pieces"]))]
    lexicon: dict[str, int] = {}
    for batch in batched(keys, 64):
        for row in conn.get(conn.loc.side("meta"), ids=list(batch), output_fields=["value"]):
            lexicon.update(json.loads(row["value"]))
    return lexicon


def write_lexicon(conn: Connection, lexicon: dict[str, int]) -> None:
    """Write the pieces first, then the piece count (the count names a complete set)."""
    pieces = lexicon_pieces(lexicon)
    old = (meta_get(conn, "lexicon") or {"pieces": 0})["pieces"]
    for batch in batched(list(enumerate(pieces)), 32):
        meta_put(conn, {f"lexicon/{i:06d}": p for i, p in batch})
    meta_put(conn, {"lexicon": {"pieces": len(pieces)}})
    stale = [f"lexicon/{i:06d}" for i in range(len(pieces), int(old))]
    if stale:
        conn.delete(conn.loc.side("meta"), ids=stale)
