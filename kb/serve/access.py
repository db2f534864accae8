"""Who may read what: the reader of a request and the documents it may see.

A key has access groups; a document has access groups too (sidecar ``access``, stored in the
index as :attr:`kb.records.DocMeta.access`; none means everyone). A reader sees a document open
to everyone or to one of its groups, and nothing of any other: the restriction is a search filter
(:attr:`kb.records.Filters.access`), so ranking never sees a forbidden passage, and every listing,
count and look-up here goes through :func:`visible_heads` or :func:`readable_document`. A document
that exists but may not be read is answered exactly as one that does not exist.
"""
from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

from ..records import DocHead, Document, Filters, may_read

ROLES_ALLOWED = {"read": ("reader", "admin"), "admin": ("admin",)}


@dataclass(frozen=True)
class Reader:
    """The caller: a key's name, role and groups; ``groups`` None is the local user of a server
    started without keys (reads everything, as the command line does)."""

    name: str
    role: str
    groups: tuple[str, ...] | None

    def may(self, action: str) -> bool:
        return self.role in ROLES_ALLOWED[action]


LOCAL = Reader("local", "admin", None)


class NotFound(Exception):
    """A document that does not exist, or that the reader may not read (the same answer)."""

    def __init__(self, doc_id: str) -> None:
        super().__init__(f"no document {doc_id!r} in this index")


def restrict(filters: Filters, reader: Reader) -> Filters:
    """The request's filters narrowed to the documents the reader may read."""
    return filters if reader.groups is None else replace(filters, access=reader.groups)


def visible_heads(kb: Any, reader: Reader) -> list[DocHead]:
    return [h for h in kb.index.heads() if may_read(h.meta.access, reader.groups)]


def readable_document(kb: Any, reader: Reader, doc_id: str) -> Document:
    """The document if the reader may read it; :class:`NotFound` when it is missing or forbidden
    (checked before the document is loaded, so the two cannot be told apart)."""
    if not any(h.doc_id == doc_id for h in visible_heads(kb, reader)):
        raise NotFound(doc_id)
    return kb.document(doc_id)


def facets(heads: list[DocHead]) -> dict[str, list]:
    """Filter values of the visible documents (as :meth:`kb.search.KnowledgeBase.facets`)."""
    return {
        "years": sorted({h.meta.year for h in heads if h.meta.year is not None}),
        "organisations": sorted({h.meta.organisation for h in heads if h.meta.organisation}),
        "doc_types": sorted({h.meta.doc_type for h in heads if h.meta.doc_type}),
    }


def document_row(head: DocHead) -> dict[str, Any]:
    """A document in ``GET /v1/documents`` (its access groups are not shown)."""
    m = head.meta
    return {"doc_id": head.doc_id, "title": m.title, "organisation": m.organisation, "doc_type": m.doc_type,
            "year": m.year}
