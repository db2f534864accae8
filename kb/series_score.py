"""Scoring of figure series ("hur har X utvecklats 2021–2023?") against eval/series/questions.jsonl.

A gold pair is a figure a report states for one year: ``{"doc", "year", "number", ...}``. A
returned entry is one of kb's series entries: ``{"doc_id", "year", "number", ...}`` (``value`` is
parsed when ``number`` is missing). An entry matches a gold pair when the documents are the same
(compared as kb doc ids, so ``"x.txt"`` and ``"x"`` are one document), the years are equal and
the numbers are equal within 1e-9.

* recall (per question) = share of the question's distinct gold figures (doc, year, number) that
  some returned entry matches;
* precision (per question) = share of returned entries that match some gold figure (an entry
  repeating a correct figure is still correct);
* over a set: recall is averaged over questions with gold figures, precision over questions that
  returned at least one entry (a question returning nothing contributes no precision).

Everything here is a pure function; nothing reads files.
"""
from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Mapping

TOLERANCE = 1e-9
_NUMBER = re.compile(
    r"^(?P<sign>[+\-\u2212\u2013])?\s*"
    r"(?P<int>\d{1,3}(?:[ \u00a0\u202f\u2009]\d{3})+|\d+)"
    r"(?:[,.](?P<frac>\d+))?\s*%?$"
)

Key = tuple[str, int, float]


def parse_number(text: object) -> float | None:
    """A Swedish figure as a float: "8,0" → 8.0, "206 583" → 206583.0, "-46" and "−46" → -46.0,
    "65.4" → 65.4, "9,9 %" → 9.9. Anything else (words, "I.U.", "-", "≤6,0") → None."""
    if isinstance(text, bool):
        return None
    if isinstance(text, (int, float)):
        return float(text)
    if not isinstance(text, str):
        return None
    m = _NUMBER.match(unicodedata.normalize("NFC", text).strip())
    if not m:
        return None
    digits = re.sub(r"\D", "", m.group("int"))
    value = float(f"{digits}.{m.group('frac')}" if m.group("frac") else digits)
    return -value if m.group("sign") in ("-", "\u2212", "\u2013") else value


def doc_key(name: object) -> str:
    """The kb doc id of a document name: the file name without its suffix, as a lowercase ASCII
    slug (the rule of kb.ingest.make_doc_id for a file at the corpus root). A doc id maps to itself."""
    s = str(name or "").strip()
    s = re.sub(r"\.(txt|pdf|md|docx?|html?)$", "", s, flags=re.IGNORECASE)
    s = unicodedata.normalize("NFKD", s).encode("ascii", "ignore").decode().lower()
    return re.sub(r"[^a-z0-9]+", "-", s).strip("-")


def _year(value: object) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, str) and value.strip().isdigit():
        return int(value.strip())
    return None


def entry_key(entry: Mapping, doc_field: str) -> Key | None:
    """(doc id, year, number) of a gold pair (doc_field "doc") or a returned entry ("doc_id");
    None when a part is missing or unreadable."""
    doc = doc_key(entry.get(doc_field) or entry.get("doc") or entry.get("doc_id"))
    year = _year(entry.get("year"))
    number = entry.get("number")
    number = parse_number(number) if number is not None else parse_number(entry.get("value"))
    if not doc or year is None or number is None:
        return None
    return doc, year, number


def _matches(key: Key, keys: Iterable[Key]) -> bool:
    return any(key[0] == k[0] and key[1] == k[1] and abs(key[2] - k[2]) < TOLERANCE for k in keys)


def _distinct(keys: Iterable[Key]) -> list[Key]:
    out: list[Key] = []
    for k in keys:
        if not _matches(k, out):
            out.append(k)
    return out


def score_series(gold_pairs: Iterable[Mapping], returned: Iterable[Mapping]) -> dict:
    """Recall and precision of one question's returned entries against its gold pairs.

    ``gold`` counts distinct gold figures, ``matched`` those found, ``returned`` the entries
    returned and ``correct`` the returned entries that match a gold figure. recall is None without
    gold figures, precision None without returned entries."""
    gold = _distinct(k for k in (entry_key(p, "doc") for p in gold_pairs) if k)
    returned = list(returned)
    got = [entry_key(e, "doc_id") for e in returned]
    found = [k for k in got if k]
    matched = sum(1 for g in gold if _matches(g, found))
    correct = sum(1 for k in got if k and _matches(k, gold))
    return {
        "recall": matched / len(gold) if gold else None,
        "precision": correct / len(returned) if returned else None,
        "matched": matched,
        "correct": correct,
        "returned": len(returned),
        "gold": len(gold),
    }


def _mean(values: list[float]) -> float | None:
    return sum(values) / len(values) if values else None


def evaluate_series(gold_rows: Iterable[Mapping], returned_by_id: Mapping[str, Iterable[Mapping]]) -> dict:
    """Score every gold question (rows of questions.jsonl) against the entries returned for its id
    (a missing id returned nothing)."""
    per_question = []
    for row in gold_rows:
        qid = str(row.get("id", ""))
        score = score_series(row.get("series") or [], returned_by_id.get(qid) or [])
        per_question.append({"id": qid, "metric": row.get("metric", ""), **score})
    return {
        "recall": _mean([q["recall"] for q in per_question if q["recall"] is not None]),
        "precision": _mean([q["precision"] for q in per_question if q["precision"] is not None]),
        "questions": len(per_question),
        "per_question": per_question,
    }


def _fmt(value: float | None) -> str:
    return "-" if value is None else f"{value:.3f}"


def format_series_table(result: Mapping) -> str:
    """A plain-text table of an evaluate_series result: one line per question, then the means."""
    lines = [f"{'id':<6} {'recall':>7} {'prec.':>7} {'found':>7} {'ret.':>5}  metric"]
    for q in result.get("per_question", []):
        found = f"{q['matched']}/{q['gold']}"
        lines.append(
            f"{q['id']:<6} {_fmt(q['recall']):>7} {_fmt(q['precision']):>7} {found:>7} {q['returned']:>5}  "
            f"{q['metric']}"
        )
    lines.append(
        f"{'mean':<6} {_fmt(result.get('recall')):>7} {_fmt(result.get('precision')):>7}"
        f"   ({result.get('questions', 0)} questions)"
    )
    return "\n".join(lines)
