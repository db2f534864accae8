"""The BM25 statistics of a Milvus collection during an ingest: the vocabulary with its document
frequencies (``NAME__terms``), counted along as documents are written (:class:`TermTable`) or
recounted from the stored passages after an interrupted run (:func:`recount`)."""
from __future__ import annotations

from collections import Counter
from typing import Any

from .. import sparse
from .store import DUMMY, SENTENCES, Connection, batched, meta_get, meta_put, query_all


class TermTable:
    """The BM25 vocabulary during an ingest: sparse ids (new terms reserved before use) and the
    df changes to commit."""

    def __init__(self, conn: Connection) -> None:
        self.conn = conn
        self.ids: dict[str, int] = {}
        self.delta: Counter[int] = Counter()

    def lookup(self, terms: set[str]) -> None:
        """Make ``self.ids`` know every term: stored ids are read, new ones reserved then stored."""
        unknown = [t for t in terms if t not in self.ids]
        for batch in batched(unknown, 1000):
            for r in self.conn.get(self.conn.loc.side("terms"), ids=list(batch), output_fields=["term_id"]):
                self.ids[r["key"]] = int(r["term_id"])
        new = [t for t in unknown if t not in self.ids]
        if not new:
            return
        start = int((meta_get(self.conn, "vocab") or {"next": 0})["next"])
        fresh = sparse.assign_ids(new, {}, start)
        meta_put(self.conn, {"vocab": {"next": start + len(fresh)}})  # reserve first: a crash leaves a gap
        for batch in batched(list(fresh.items()), 1000):
            self.conn.upsert(self.conn.loc.side("terms"),
                             [{"key": t, "term_id": i, "df": 0, "v": DUMMY} for t, i in batch])
        self.ids.update(fresh)

    def count(self, keys, sign: int) -> None:
        self.delta.update({int(k): sign for k in keys})

    def commit(self) -> None:
        """Add the df changes to the stored rows."""
        changed = {i: d for i, d in self.delta.items() if d}
        names = {i: t for t, i in self.ids.items() if i in changed}
        missing = [i for i in changed if i not in names]
        for batch in batched(missing, 1000):
            expr = f"term_id in [{', '.join(str(i) for i in batch)}]"
            for r in self.conn.query(self.conn.loc.side("terms"), filter=expr, output_fields=["key", "term_id"]):
                names[int(r["term_id"])] = r["key"]
        for batch in batched(sorted(names.items()), 1000):
            rows = self.conn.get(self.conn.loc.side("terms"), ids=[t for _, t in batch],
                                 output_fields=["term_id", "df"])
            self.conn.upsert(self.conn.loc.side("terms"), [
                {"key": r["key"], "term_id": int(r["term_id"]), "df": max(0, int(r["df"]) + changed[int(r["term_id"])]),
                 "v": DUMMY} for r in rows])
        self.delta.clear()


def recount(conn: Connection, docs: dict[str, dict[str, Any]]) -> sparse.CorpusStats:
    """Statistics from the stored passages (after an interrupted run): df of every term, N and
    the length sum; passages, sentences and text pieces that no document row claims (same id and
    version) are deleted."""
    df: Counter[int] = Counter()
    n = total = 0
    orphans: list[str] = []
    for r in query_all(conn, conn.loc.collection, "", ["chunk_id", "doc_id", "version", "sparse", "dlen"]):
        if docs.get(r["doc_id"], {}).get("version") != r["version"]:
            orphans.append(r["chunk_id"])
            continue
        df.update(int(k) for k in r["sparse"] if int(k) != sparse.EMPTY)
        n += 1
        total += int(r["dlen"])
    for batch in batched(orphans, 1000):
        conn.delete(conn.loc.collection, ids=list(batch))
    for side in ("text", SENTENCES):
        stale = [r["key"] for r in query_all(conn, conn.loc.side(side), "", ["key", "doc_id", "version"])
                 if docs.get(r["doc_id"], {}).get("version") != r["version"]]
        for batch in batched(stale, 1000):
            conn.delete(conn.loc.side(side), ids=list(batch))
    changed = []
    for r in query_all(conn, conn.loc.side("terms"), "", ["key", "term_id", "df"]):
        want = df.get(int(r["term_id"]), 0)
        if int(r["df"]) != want:
            changed.append({"key": r["key"], "term_id": int(r["term_id"]), "df": want, "v": DUMMY})
    for batch in batched(changed, 1000):
        conn.upsert(conn.loc.side("terms"), list(batch))
    return sparse.CorpusStats(n, total)
