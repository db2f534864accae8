"""A document's metadata: title, organisation, report type and year inferred from the file name
and the text (:func:`infer_meta`), overridden by a validated sidecar ``NAME.meta.json``
(:func:`apply_sidecar`, :func:`check_sidecar`)."""
from __future__ import annotations

import json
import re
import unicodedata
from collections import Counter
from dataclasses import replace
from pathlib import Path
from typing import Any

from ..errors import IngestError
from ..records import DocMeta, valid_group
from ..sanitize import has_control, one_line
from ..text import years_in
from .discover import read_sidecar_bytes, sidecar_path

ORGANISATIONS = (
    # (pattern in file name or text, canonical name); order matters: first match wins
    (r"leanlink", "Leanlink"),
    (r"social-?\s*och\s*-?\s*omsorgsn[äa]mnden?|socialochomsorgsnamnden|social-och-omsorgsnamnden",
     "Social- och omsorgsnämnden"),
    (r"[äa]ldren[äa]mnden?", "Äldrenämnden"),
    (r"kommunstyrelsen?|kommunstyrelsens", "Kommunstyrelsen"),
    (r"kommunfullm[äa]ktige", "Kommunfullmäktige"),
    (r"verksamhetsst[öo]d\s+och\s+service", "Verksamhetsstöd och service"),
    (r"kultur-?\s*och\s*fritidsn[äa]mnden?", "Kultur- och fritidsnämnden"),
    (r"bildningsn[äa]mnden?", "Bildningsnämnden"),
)
DOC_TYPES = (
    (r"verksamhetsber[äa]ttelse", "verksamhetsberättelse"),
    (r"delårsrapport|delarsrapport", "delårsrapport"),
    (r"uppf[öo]ljning", "uppföljning"),
    (r"budget", "budget"),
    (r"verksamhetsplan", "verksamhetsplan"),
    (r"årsredovisning|arsredovisning", "årsredovisning"),
)


def infer_meta(path: Path, text: str) -> DocMeta:
    """Title, organisation, report type and reporting year from the file name, then the text.

    Year: a year in the file name wins; else the most frequent year in the first 3000
    characters of the text. Report type: file name first, then the first 3000 characters.
    Organisation: file name first (first pattern that matches), else the organisation the whole
    text names most often. Title: "<Type> <year> – <organisation>" when all three are known
    (file names are often ASCII-only), else the file name with separators as spaces.
    """
    stem = unicodedata.normalize("NFC", path.stem)
    name = stem.lower().replace("_", " ")
    head = text[:3000].lower()

    def first(table, hay):
        for pat, value in table:
            if re.search(pat, hay):
                return value
        return None

    years = years_in(name)
    year: int | None
    if years:
        year = years[-1]
    else:
        counts = Counter(years_in(head))
        year = counts.most_common(1)[0][0] if counts else None
    org = first(ORGANISATIONS, name)
    if org is None:
        lower = text.lower()
        mentions = Counter({value: len(re.findall(pat, lower)) for pat, value in ORGANISATIONS})
        best, n = mentions.most_common(1)[0] if mentions else (None, 0)
        org = best if n else None
    doc_type = first(DOC_TYPES, name) or first(DOC_TYPES, head)
    if doc_type and org and year:
        title = f"{doc_type[:1].upper()}{doc_type[1:]} {year} – {org}"
    else:
        title = one_line(re.sub(r"[-_]+", " ", stem))[:MAX_FIELD_CHARS]
        title = title[:1].upper() + title[1:] if title else one_line(path.name) or "?"
    return DocMeta(title=title, organisation=org, doc_type=doc_type, year=year)


SIDECAR_KEYS = ("title", "organisation", "doc_type", "year", "access")
MAX_FIELD_CHARS = 300
YEAR_RANGE = (1900, 2100)

def check_sidecar(data: object) -> dict[str, Any]:
    """The validated overrides of a parsed sidecar, or an IngestError naming the first problem.

    Keys: ``title`` (text), ``organisation`` and ``doc_type`` (text or null), ``year`` (a whole
    number in :data:`YEAR_RANGE`, or null). Text is one line (no control characters or line
    breaks), 1 to :data:`MAX_FIELD_CHARS` characters after trimming, normalised to NFC. Any
    other key is refused (a typo would otherwise be ignored silently). ``access``: a list of
    access groups that may read the document through the HTTP API (:func:`_check_access`).
    """
    if not isinstance(data, dict):
        raise IngestError("must hold a JSON object such as {\"year\": 2023}")
    unknown = sorted(str(k) for k in data if k not in SIDECAR_KEYS)
    if unknown:
        raise IngestError(f"unknown key {unknown[0][:40]!r}; allowed: {', '.join(SIDECAR_KEYS)}")
    out: dict[str, object] = {}
    for key, value in data.items():
        if key == "year":
            out[key] = _check_year(value)
        elif key == "access":
            out[key] = _check_access(value)
        elif value is None and key != "title":
            out[key] = None
        else:
            out[key] = _check_text(key, value)
    return out


def _check_year(value: object) -> int | None:
    lo, hi = YEAR_RANGE
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int):
        raise IngestError(f"year must be a whole number such as 2023 or null, not {type(value).__name__}")
    if not lo <= value <= hi:
        raise IngestError(f"year {str(value)[:12]} is outside {lo}–{hi}")
    return value


def _check_access(value: object) -> tuple[str, ...]:
    """Access groups: a list of group names (:func:`kb.records.valid_group`); null or [] for everyone."""
    if value is None:
        return ()
    if not isinstance(value, list):
        raise IngestError("access must be a list of group names such as [\"ekonomi\"], or null")
    for g in value:
        if not valid_group(g):
            raise IngestError(f"access group {str(g)[:40]!r} is not a name of letters, digits, '.', '_' or '-' "
                              "(at most 64)")
    return tuple(sorted(set(value)))


def _check_text(key: str, value: object) -> str:
    if not isinstance(value, str):
        kind = "null" if value is None else type(value).__name__
        raise IngestError(f"{key} must be text, not {kind}")
    text = unicodedata.normalize("NFC", value).strip()
    if not text:
        raise IngestError(f"{key} is empty")
    if has_control(text):
        raise IngestError(f"{key} must be one line without control characters")
    if len(text) > MAX_FIELD_CHARS:
        raise IngestError(f"{key} is longer than {MAX_FIELD_CHARS} characters")
    return text


def apply_sidecar(meta: DocMeta, path: Path) -> DocMeta:
    """Override metadata from ``NAME.meta.json`` (validated by :func:`check_sidecar`)."""
    raw = read_sidecar_bytes(path)
    if raw is None:
        return meta
    name = sidecar_path(path).name
    try:
        data = json.loads(raw.decode("utf-8-sig"))
    except (ValueError, RecursionError) as e:
        raise IngestError(f"sidecar {name} is not valid JSON: {str(e)[:120]}") from None
    try:
        return replace(meta, **check_sidecar(data))
    except IngestError as e:
        raise IngestError(f"sidecar {name}: {e}") from None
