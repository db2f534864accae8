"""The bytes of a text file as text: BOMs, UTF-8, UTF-16 (with or without BOM), cp1252 and
latin-1; binary data refused; line breaks unified and the text normalised to NFC."""
from __future__ import annotations

import unicodedata

from ..errors import IngestError


def decode_text(data: bytes) -> str:
    """Decode bytes of a text file; raise IngestError for empty or binary data.

    Order: BOMs (UTF-8, UTF-16), strict UTF-8, then cp1252 (a superset of latin-1's printable
    range), then latin-1. Binary data (NUL bytes without a UTF-16 BOM, or many control
    characters) is refused.
    """
    if not data.strip():
        raise IngestError("empty file")
    if data.startswith(b"\xef\xbb\xbf"):
        text = data[3:].decode("utf-8", errors="replace")
    elif data.startswith((b"\xff\xfe", b"\xfe\xff")):
        try:
            text = data.decode("utf-16")
        except UnicodeDecodeError as e:
            raise IngestError(f"broken UTF-16 text: {e.reason}") from None
    else:
        sample = data[:8192]
        if b"\x00" in sample:
            utf16 = _bomless_utf16(sample)
            if utf16 is None:
                raise IngestError("binary file, not text (contains NUL bytes)")
            try:
                return decode_text(data.decode(utf16).encode("utf-16"))
            except UnicodeDecodeError:
                raise IngestError("binary file, not text (contains NUL bytes)") from None
        try:
            text = data.decode("utf-8")
        except UnicodeDecodeError:
            try:
                text = data.decode("cp1252")
            except UnicodeDecodeError:
                text = data.decode("latin-1")
    head = text[:8192]
    ctrl = sum(1 for c in head if unicodedata.category(c) == "Cc" and c not in "\n\r\t\f")
    if ctrl > max(8, len(head) // 50):
        raise IngestError("binary file, not text (many control characters)")
    text = unicodedata.normalize("NFC", text.replace("\r\n", "\n").replace("\r", "\n"))
    if not text.strip():
        raise IngestError("empty file (no text)")
    return text


def _bomless_utf16(sample: bytes) -> str | None:
    """'utf-16-le'/'utf-16-be' when the bytes look like UTF-16 text without a BOM (mostly
    Latin text: every other byte is NUL), else None."""
    n = len(sample) // 2 * 2
    if n < 4:
        return None
    even, odd = sample[0:n:2], sample[1:n:2]
    if odd.count(0) >= 0.9 * len(odd) and even.count(0) <= 0.05 * len(even):
        return "utf-16-le"
    if even.count(0) >= 0.9 * len(even) and odd.count(0) <= 0.05 * len(odd):
        return "utf-16-be"
    return None
