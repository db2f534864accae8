"""The address and the connection of a Milvus index: ``milvus://HOST:PORT/NAME`` parsed into a
:class:`MilvusLocation` (no credentials in it: ``KB_MILVUS_TOKEN`` holds them), and a
:class:`Connection` whose every call turns a Milvus failure into one :class:`MilvusError` line
naming the address. The collections' layout and rows are in :mod:`kb.milvus.store`."""
from __future__ import annotations

import ipaddress
import logging
import os
import re
import time
from dataclasses import dataclass

from ..errors import KBError
from ..sanitize import one_line, redact

SCHEME = "milvus://"
MAX_NAME = 244  # Milvus allows 255; the side collections append up to 11 characters
CONNECT_RETRY_SECONDS = 3.0
_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_ADDR = re.compile(r"milvus://(?P<host>[A-Za-z0-9.\-]+|\[[0-9A-Fa-f:.]+\]):(?P<port>\d{1,5})/(?P<name>[^/?#]*)")
_USERINFO = re.compile(r"milvus://[^/]*@", re.IGNORECASE)


class MilvusError(KBError):
    """The Milvus server could not be reached or refused a request."""


@dataclass(frozen=True)
class MilvusLocation:
    host: str
    port: int
    collection: str

    @property
    def address(self) -> str:
        """``host:port``, an IPv6 literal in brackets (``[::1]:19530``)."""
        return f"[{self.host}]:{self.port}" if ":" in self.host else f"{self.host}:{self.port}"

    @property
    def uri(self) -> str:
        return f"http://{self.address}"

    def __str__(self) -> str:
        return f"{SCHEME}{self.address}/{self.collection}"

    def side(self, kind: str) -> str:
        return f"{self.collection}__{kind}"


def parse_location(text: str) -> MilvusLocation:
    """``milvus://HOST:PORT/COLLECTION`` -> its parts (HOST a name, an IPv4 or a bracketed IPv6 address);
    KBError saying what is wrong otherwise. A user name or password in the address is refused without
    being echoed: the credentials belong in ``KB_MILVUS_TOKEN``."""
    text = text.strip()
    if _USERINFO.match(text):
        raise KBError(f"a Milvus address may not hold a user name or password ({redact(text)}); write "
                      "milvus://HOST:PORT/COLLECTION and put the credentials in KB_MILVUS_TOKEN (user:password)")
    m = _ADDR.fullmatch(text)
    if m is None:
        raise KBError(f"malformed Milvus address {redact(text)!r}; write milvus://HOST:PORT/COLLECTION, "
                      "e.g. milvus://127.0.0.1:19530/kb or milvus://[::1]:19530/kb")
    port, host = int(m["port"]), m["host"]
    if not 0 < port < 65536:
        raise KBError(f"malformed Milvus address {redact(text)!r}: port {port} is not between 1 and 65535")
    if host.startswith("["):
        host = host[1:-1]
        try:
            ipaddress.IPv6Address(host)
        except ValueError:
            raise KBError(f"malformed Milvus address {redact(text)!r}: [{host}] is not an IPv6 address") from None
    name = m["name"]
    if not _NAME.fullmatch(name) or len(name) > MAX_NAME or "__" in name:
        raise KBError(
            f"Milvus cannot use the collection name {name!r} (in {redact(text)!r}): use letters, digits and single "
            f"underscores, starting with a letter or underscore, at most {MAX_NAME} characters"
        )
    return MilvusLocation(host, port, name)


class Connection:
    """A MilvusClient whose failures become one-line :class:`MilvusError` naming the address."""

    def __init__(self, loc: MilvusLocation, timeout: float = 10.0) -> None:
        try:
            from pymilvus import MilvusClient
            logging.getLogger("pymilvus").setLevel(logging.CRITICAL)  # errors become one MilvusError line
        except ImportError:
            raise KBError("Milvus support is not installed; run: pip install 'kb[milvus]'") from None
        self.loc = loc
        self.timeout = timeout
        token = os.environ.get("KB_MILVUS_TOKEN", "")
        # a dedicated channel: a shared one that saw the server die stays broken for later clients;
        # a few quick retries ride out gRPC's reconnect back-off after a server restart
        deadline = time.monotonic() + CONNECT_RETRY_SECONDS
        while True:
            try:
                self.client = self._guard("connect", MilvusClient, uri=loc.uri, token=token, timeout=timeout,
                                          dedicated=True)
                return
            except MilvusError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.5)

    def _guard(self, what: str, fn, *args, **kwargs):
        from pymilvus import MilvusException

        try:
            return fn(*args, **kwargs)
        except MilvusException as e:
            msg = one_line(redact(getattr(e, "message", "") or e))[:300]
            hint = (" (pymilvus cannot connect to an IPv6 address literal: use a host name that resolves to it)"
                    if what == "connect" and ":" in self.loc.host else "")
            raise MilvusError(
                f"Milvus at {self.loc.address} failed ({what}): {msg}{hint}; check that the server is running "
                f"and reachable, then retry") from None

    def __getattr__(self, name: str):
        fn = getattr(self.client, name)
        return lambda *a, **kw: self._guard(name, fn, *a, **kw)

    def close(self) -> None:
        self.client.close()
