"""``kb search``: passages for a query or a file of queries, for a reader or as JSON."""
from __future__ import annotations

import argparse
import json
import sys
import textwrap

from ..contract import search_json
from ..errors import KBError
from ..reflow import reflow
from ..sanitize import safe_terminal
from .args import filters_of, open_kb


def print_hits(result, out=None) -> None:
    out = out if out is not None else sys.stdout  # looked up at call time (redirects, capture)
    info = result.info
    if info.years:
        print(f"(år i frågan: {', '.join(map(str, info.years))} – träffar från de åren lyfts fram)", file=out)
    if not result.hits:
        print("Inga träffar.", file=out)
    for h in result.hits:
        print(f"\n[{h.rank}] {safe_terminal(h.citation)}  (score {h.score:.4f})", file=out)
        for line in reflow(h.text).text.split("\n"):  # for reading: a sentence's lines joined, hyphens gone
            if line.strip():
                print(textwrap.indent(textwrap.fill(safe_terminal(line.replace("\t", "  ")), 100), "    "), file=out)
        for other in h.also_at:
            print(f"    (samma text även: {safe_terminal(other)})", file=out)


def print_notes(result) -> None:
    """Notes of a search (e.g. a filter value not in the index) on stderr, so --json stays clean."""
    for note in result.notes:
        print(f"kb: note: {safe_terminal(note)}", file=sys.stderr)


def cmd_search(a: argparse.Namespace) -> int:
    if (a.query is None) == (a.queries is None):
        raise KBError("give either a QUERY or --queries FILE.jsonl")
    kb = open_kb(a)
    filters = filters_of(a)
    if a.queries is not None:
        from ..evaluate import read_jsonl_objects, row_id, row_query

        where = f"query file {a.queries}"
        rows = read_jsonl_objects(a.queries, "query file")
        batch = [(row_id(row, n, where, default=str(i)),
                  row_query(row, n, where)) for i, (n, row) in enumerate(rows, 1)]
        for qid, query in batch:
            res = kb.search(query, k=a.k, filters=filters, mode=a.mode, use_query_years=not a.no_query_year)
            print_notes(res)
            if a.json:
                print(json.dumps(search_json("query_id", qid, res.hits), ensure_ascii=False))
            else:
                print(f"=== {safe_terminal(qid)}: {safe_terminal(query)}")
                print_hits(res)
        return 0
    res = kb.search(a.query, k=a.k, filters=filters, mode=a.mode, use_query_years=not a.no_query_year)
    print_notes(res)
    if a.json:
        print(json.dumps(search_json("query", a.query, res.hits), ensure_ascii=False))
    else:
        print_hits(res)
    return 0
