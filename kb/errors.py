"""Errors raised by the library; the CLI turns each into one clear message."""
from __future__ import annotations


class KBError(Exception):
    """Base class: a problem the user can act on. The message says what to do next."""


class IndexMissingError(KBError):
    """No index exists at the given location."""


class IndexIncompatibleError(KBError):
    """The index was built with another format version or embedder."""


class IndexCorruptError(KBError):
    """An index file is missing, truncated or altered (checksum mismatch)."""


class EmbedderError(KBError):
    """The embedding backend could not be loaded or used."""


class IngestError(KBError):
    """A single input file could not be read; carries a one-line reason."""


class LLMError(KBError):
    """The language model server for generated answers is misconfigured, unreachable or failed."""
