"""The ``kb`` command: a thin layer over the library.

Commands: ``ingest``, ``search`` (single or batch, human or ``--json``), ``ask`` (extractive
answer; with ``--generate`` also a checked answer from a language model server, see
:mod:`kb.answer.generate`), ``eval`` (metrics on a gold file), ``info``. Library errors
(:class:`kb.errors.KBError`) become one clear line on stderr and exit code 2; nothing else is caught.

Exit codes: 0 success; 1 ``ingest`` indexed no document at all (every file failed or none was
found; failures are listed; nothing is published and a previous index stays as it was, see
:mod:`kb.ingest.guard`); 2 a library error (bad index, bad arguments, full disk, an ingest that would
remove documents outside the given paths without ``--replace``, ...); 130 interrupted.
``ingest`` exits 0 when at least one document is in the index, even if some files failed: each
failure is printed on one line (``FAILED path: reason``) and the summary counts them.

Human output shows control characters of documents, file names and queries escaped
(:func:`kb.sanitize.safe_terminal`); ``--json`` output is JSON-escaped anyway. Notes about a
search (a filter value no document has) go to stderr as ``kb: note: ...``.
"""
from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from ..errors import KBError
from ..sanitize import redact, safe_terminal, scrub
from .args import build_parser
from .ask import cmd_ask
from .evaluate import cmd_eval
from .info import cmd_info, cmd_keys, cmd_serve
from .ingest import cmd_ingest
from .search import cmd_search

COMMANDS = {"ingest": cmd_ingest, "search": cmd_search, "ask": cmd_ask, "eval": cmd_eval, "info": cmd_info,
            "serve": cmd_serve, "keys": cmd_keys}


def _clean_args(args: argparse.Namespace) -> None:
    """Text arguments with lone surrogates (bytes that are not UTF-8) replaced by U+FFFD; a file name
    no file system can hold is refused."""
    for key, value in vars(args).items():
        if isinstance(value, (str, list)):
            setattr(args, key, scrub(value))
        for p in value if isinstance(value, list) else [value]:
            if isinstance(p, Path):
                try:
                    os.fsencode(p)
                except UnicodeError:
                    raise KBError(f"{safe_terminal(p)} is not a valid file name") from None


def _check_k(args: argparse.Namespace) -> None:
    """``-k`` (hits to return, show or score) is a positive number."""
    k = getattr(args, "k", None)
    if k is not None and k < 1:
        raise KBError(f"-k must be at least 1 (the number of hits), not {k}")


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        _clean_args(args)
        _check_k(args)
        return COMMANDS[args.cmd](args)
    except KBError as e:  # the one boundary every error passes: no secret, no control character
        print(f"kb: error: {safe_terminal(redact(e))}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("kb: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:  # output piped into `head` and the like: stop quietly
        sys.stderr.close()
        return 0
