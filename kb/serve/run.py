"""``kb serve`` and ``kb keys``: the command-line side of the HTTP API.

``kb serve --index LOC [--keys FILE] [--host H] [--port P] [--workers N]``: without ``--keys`` the
server answers only on 127.0.0.1 (one local user, like the command line; any other host is
refused); with keys every call but ``/v1/health`` needs one. Workers are uvicorn worker processes,
each opening the index once; the rate counts of the keys are shared through a state folder.
"""
from __future__ import annotations

import argparse
import os
import shutil
import signal
import sys
import tempfile
from pathlib import Path

from ..errors import KBError
from ..location import as_location, open_index
from ..sanitize import safe_terminal
from .keys import ROLES, add_key, load_keys, parse_groups, remove_key
from .limits import Limits

LOCAL_HOSTS = ("127.0.0.1", "localhost", "::1")


def add_parsers(sub) -> None:
    """The ``serve`` and ``keys`` sub-commands of ``kb``."""
    p = sub.add_parser("serve", help="HTTP API (docs/api.md)")
    p.add_argument("--index", default=None, help="index folder or milvus://HOST:PORT/COLLECTION")
    p.add_argument("--keys", type=Path, default=None, help="API key file (kb keys add); without it: 127.0.0.1 only")
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=8000)
    p.add_argument("--workers", type=int, default=1, help="worker processes (each opens the index once)")
    p.add_argument("--rate", type=int, default=None, help="requests a minute for a key without its own --rate")
    p.add_argument("--timeout", type=float, default=30.0, help="seconds a request may take (default 30)")
    p.add_argument("--max-body", type=int, default=256 * 1024, help="largest request body in bytes")

    p = sub.add_parser("keys", help="API keys of kb serve: add, list, remove")
    p.add_argument("action", choices=("add", "list", "remove"))
    p.add_argument("name", nargs="?")
    p.add_argument("--keys", type=Path, required=True, help="the key file")
    p.add_argument("--role", choices=ROLES, default="reader")
    p.add_argument("--groups", default="", help="access groups, comma-separated (documents of these groups)")
    p.add_argument("--rate", type=int, default=None, help="requests a minute for this key")


def cmd_keys(a: argparse.Namespace) -> int:
    if a.action == "list":
        for k in load_keys(a.keys):
            groups = ",".join(k.groups) or "-"
            print(f"{safe_terminal(k.name)}\t{k.role}\tgroups={groups}\trate={k.rate or '-'}\t{k.created}")
        return 0
    if not a.name:
        raise KBError(f"kb keys {a.action} needs a NAME")
    if a.action == "remove":
        remove_key(a.keys, a.name)
        print(f"removed key {safe_terminal(a.name)}")
        return 0
    token = add_key(a.keys, a.name, a.role, parse_groups(a.groups), a.rate)
    print(f"added key {safe_terminal(a.name)} ({a.role}); it is shown only now, store it safely:", file=sys.stderr)
    print(token)
    return 0


def check_serve(a: argparse.Namespace) -> None:
    if a.keys is None and a.host not in LOCAL_HOSTS:
        raise KBError(f"without --keys the server answers only on 127.0.0.1; give --keys FILE to listen on {a.host}")
    if a.keys is not None and not load_keys(a.keys):
        raise KBError(f"the key file {a.keys} holds no key; add one with `kb keys add NAME --keys {a.keys}`")
    if a.workers < 1 or a.timeout <= 0 or a.max_body < 1 or (a.rate is not None and a.rate < 1):
        raise KBError("--workers, --timeout, --max-body and --rate must be positive")


def cmd_serve(a: argparse.Namespace) -> int:
    import uvicorn

    from .app import ENV_CONFIG, ServeConfig

    check_serve(a)
    location = as_location(a.index)
    open_index(location)  # a missing or unreadable index is one error line now, not one per worker
    state = tempfile.mkdtemp(prefix="kb-serve-")
    limits = Limits(max_body_bytes=a.max_body, rate=a.rate, timeout=a.timeout)
    config = ServeConfig(str(location), str(a.keys.resolve()) if a.keys else None, state, limits)
    os.environ[ENV_CONFIG] = config.to_env()
    if a.keys is None:
        print(f"kb: serving without keys, on {a.host} only (give --keys FILE to open it to others)", file=sys.stderr)
    print(f"kb: http://{a.host}:{a.port}/docs  (index {safe_terminal(location)}, {a.workers} worker(s))",
          file=sys.stderr)
    # uvicorn re-raises SIGTERM after its graceful shutdown; exit through Python so the state folder goes
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    try:
        uvicorn.run("kb.serve.app:app_from_env", factory=True, host=a.host, port=a.port, workers=a.workers,
                    access_log=False, log_level="warning", timeout_graceful_shutdown=5)
    finally:
        shutil.rmtree(state, ignore_errors=True)
    return 0
