"""Retrieval and answer evaluation with the evidence rule of the shared scorers, plus run/TREC output.

A hit is relevant to a gold quote when, after reducing both to lowercase letters and digits, the
hit contains the quote or shares a run of at least ``min(len(quote) / 2, 120)`` characters with it.
Each quote is credited once, to the first hit that covers it. Metrics over the top k: success@1,
success@5, MRR@10, recall@10 and nDCG@10 (graded). This module must agree with
``eval/score.py`` (a copy of the shared reference scorer); a test checks it does.

Answers (:func:`score_answers`, the rule of ``eval/answer_score.py``, tested to agree): a quoted
sentence is supported by a gold quote when, normalised the same way, one contains the other or
they share a run of at least ``min(0.6 * len(sentence), 80)`` characters. Metrics: answered,
support@1, support@3, precision@1 over answerable questions, abstain over unanswerable ones
(gold rows with ``"relevant": []``). An uncertain answer (verdict "uncertain") is no answer here:
``kb eval --answers`` scores the quotes kb vouches for, and counts uncertain and refused questions
apart (:func:`verdict_counts`).
"""
from __future__ import annotations

import io
import itertools
import json
import math
import os
from collections import defaultdict
from collections.abc import Iterable, Sequence
from difflib import SequenceMatcher
from pathlib import Path
from typing import Any

from . import files
from .errors import KBError
from .sanitize import scrub
from .text import fold

METRICS = ("success@1", "success@5", "mrr@10", "recall@10", "ndcg@10")


def covers(hit_norm: str, quote_norm: str) -> bool:
    if not quote_norm:
        return False
    if quote_norm in hit_norm:
        return True
    need = min(0.5 * len(quote_norm), 120)
    if len(hit_norm) < need:
        return False
    m = SequenceMatcher(None, hit_norm, quote_norm, autojunk=False)
    match = m.find_longest_match(0, len(hit_norm), 0, len(quote_norm))
    return match.size >= need


def score_query(relevant: Sequence[dict], hits: Sequence[str], k: int = 10) -> dict[str, float]:
    """Metrics for one query given its gold quotes and the hit texts in rank order."""
    quotes = [(fold(r["quote"]), r.get("grade", 2)) for r in relevant]
    covered: set[int] = set()
    gains: list[int] = []
    first_rel = None
    for rank, text in enumerate(hits[:k], start=1):
        h = fold(text)
        gain = 0
        for i, (q, g) in enumerate(quotes):
            if i not in covered and covers(h, q):
                covered.add(i)
                gain = max(gain, g)
                if g >= 2 and first_rel is None:
                    first_rel = rank
        gains.append(gain)
    dcg = sum((2**g - 1) / math.log2(r + 1) for r, g in enumerate(gains, 1))
    ideal = sorted((g for _, g in quotes), reverse=True)[:k]
    idcg = sum((2**g - 1) / math.log2(r + 1) for r, g in enumerate(ideal, 1))
    n2 = sum(1 for _, g in quotes if g >= 2)
    c2 = sum(1 for i in covered if quotes[i][1] >= 2)
    return {
        "success@1": float(first_rel == 1),
        "success@5": float(first_rel is not None and first_rel <= 5),
        "mrr@10": 1.0 / first_rel if first_rel else 0.0,
        "recall@10": c2 / n2 if n2 else 0.0,
        "ndcg@10": dcg / idcg if idcg else 0.0,
    }


def mean(rows: Iterable[dict[str, float]]) -> dict[str, float]:
    rows = list(rows)
    return {m: (sum(r[m] for r in rows) / len(rows) if rows else 0.0) for m in METRICS}


def evaluate_run(gold: Sequence[dict], run: dict[str, list[str]], k: int = 10) -> dict[str, Any]:
    """Mean metrics overall and per query type, and per-query metrics."""
    per = {g["id"]: score_query(g["relevant"], run.get(g["id"], []), k) for g in gold}
    by_type: dict[str, list[dict[str, float]]] = defaultdict(list)
    for g in gold:
        by_type[g.get("type") or "-"].append(per[g["id"]])
    return {
        "queries": len(gold),
        "mean": mean(per.values()),
        "by_type": {t: {"n": len(v), **mean(v)} for t, v in sorted(by_type.items())},
        "per_query": per,
    }


def load_jsonl(path: str | Path) -> list[dict]:
    """Rows of a trusted JSONL file (the project's own eval files); user input goes through
    :func:`read_jsonl_objects`."""
    with open(path, encoding="utf-8") as f:
        return [json.loads(line) for line in f if line.strip()]


MAX_LINE_CHARS = 100_000
MAX_INPUT_BYTES = 256 * 2**20


def read_jsonl_objects(path: Path, what: str) -> list[tuple[int, dict]]:
    """(line number, object) for every non-blank line of a user's JSONL file ``what`` (e.g.
    "query file"). Only a regular file of at most MAX_INPUT_BYTES is read, line by line, each
    line at most MAX_LINE_CHARS; anything else is a KBError naming the file and line."""
    try:
        size = os.stat(path).st_size
        if size > MAX_INPUT_BYTES:
            raise KBError(f"{what} {path} is larger than {MAX_INPUT_BYTES // 2**20} MiB")
        with files.open_regular(path) as raw, io.TextIOWrapper(raw, encoding="utf-8-sig") as f:
            return list(_objects(f, path, what))
    except UnicodeDecodeError:
        raise KBError(f"{what} {path} is not UTF-8 text") from None
    except OSError as e:
        raise KBError(f"cannot read {what} {path}: {e.strerror or e}") from None


def _objects(f: io.TextIOBase, path: Path, what: str):
    for n in itertools.count(1):
        line = f.readline(MAX_LINE_CHARS + 1)
        if not line:
            return
        if len(line) > MAX_LINE_CHARS and not line.endswith("\n"):
            raise KBError(f"{what} {path} line {n} is longer than {MAX_LINE_CHARS} characters")
        if not line.strip():
            continue
        try:
            row = scrub(json.loads(line))  # lone surrogates ("\ud800") become U+FFFD: no output can encode them
        except (ValueError, RecursionError) as e:
            raise KBError(f"{what} {path} line {n} is not valid JSON ({str(e)[:80]})") from None
        if not isinstance(row, dict):
            raise KBError(f"{what} {path} line {n} must be a JSON object, not {_kind(row)}")
        yield n, row


def _kind(value: object) -> str:
    return {dict: "an object", list: "an array", str: "a string", bool: "true/false", type(None): "null",
            int: "a number", float: "a number"}.get(type(value), type(value).__name__)


def row_id(row: dict, n: int, where: str, default: str | None = None) -> str:
    """A row's ``id`` as text (text or a whole number); ``default`` when absent, if given."""
    if "id" not in row and default is not None:
        return default
    v = row.get("id")
    if isinstance(v, bool) or not isinstance(v, (str, int)) or (isinstance(v, str) and not v.strip()):
        raise KBError(f"{where} line {n}: \"id\" must be text or a whole number, not {_kind(v)}")
    return str(v)


def row_query(row: dict, n: int, where: str) -> str:
    if "query" not in row:
        raise KBError(f"{where} line {n}: missing \"query\"")
    if not isinstance(row["query"], str):
        raise KBError(f"{where} line {n}: \"query\" must be text, not {_kind(row['query'])}")
    return row["query"]


GRADES = (0, 1, 2, 3)


def load_gold(path: Path) -> list[dict]:
    """The gold file of ``kb eval``, checked: every line an object with a unique ``id``, a text
    ``query``, ``relevant`` a list of ``{"quote": text, "grade": 0–3 (default 2)}``, an
    optional text ``type``; at least one query. Problems are KBErrors naming the line."""
    where = f"gold file {path}"
    gold: list[dict] = []
    seen: dict[str, int] = {}
    for n, row in read_jsonl_objects(path, "gold file"):
        qid = row_id(row, n, where)
        if qid in seen:
            raise KBError(f"{where} line {n}: duplicate id {qid[:60]!r} (first on line {seen[qid]}); "
                          "ids must be unique")
        seen[qid] = n
        rel = row.get("relevant")
        if not isinstance(rel, list):
            raise KBError(f"{where} line {n}: \"relevant\" must be a list of {{\"quote\", \"grade\"}}, "
                          f"not {_kind(rel)}")
        for r in rel:
            _check_relevant(r, n, where)
        kind = row.get("type")
        if kind is not None and not isinstance(kind, str):
            raise KBError(f"{where} line {n}: \"type\" must be text, not {_kind(kind)}")
        gold.append({**row, "id": qid, "query": row_query(row, n, where)})
    if not gold:
        raise KBError(f"{where} holds no queries; one JSON object per line: {{\"id\", \"query\", \"relevant\"}}")
    return gold


def _check_relevant(r: object, n: int, where: str) -> None:
    if not isinstance(r, dict):
        raise KBError(f"{where} line {n}: each of \"relevant\" must be an object, not {_kind(r)}")
    if isinstance(r.get("quote"), str) and not r["quote"].strip():
        raise KBError(f"{where} line {n}: \"quote\" is empty; give the words of a report that answer the query")
    if not isinstance(r.get("quote"), str):
        raise KBError(f"{where} line {n}: \"quote\" must be non-empty text, not {_kind(r.get('quote'))}")
    g = r.get("grade", 2)
    if isinstance(g, bool) or g not in GRADES:
        raise KBError(f"{where} line {n}: \"grade\" must be one of {', '.join(map(str, GRADES))}, not {str(g)[:20]}")


def trec_lines(query_id: str, hits: Sequence[dict], tag: str = "kb") -> list[str]:
    """TREC run lines: ``qid Q0 docno rank score tag`` (docno = passage id)."""
    return [f"{query_id} Q0 {h['chunk_id']} {h['rank']} {h['score']:.6f} {tag}" for h in hits]


def format_table(result: dict[str, Any]) -> str:
    head = f"{'':<14}" + "".join(f"{m:>11}" for m in METRICS)
    lines = [head, f"{'all (' + str(result['queries']) + ')':<14}"
             + "".join(f"{result['mean'][m]:>11.3f}" for m in METRICS)]
    for t, v in result["by_type"].items():
        lines.append(f"{t + ' (' + str(v['n']) + ')':<14}" + "".join(f"{v[m]:>11.3f}" for m in METRICS))
    return "\n".join(lines)


# -- answers ----------------------------------------------------------------------------------

ANSWER_METRICS = ("answered", "support@1", "support@3", "precision@1", "abstain")


def supported(sentence: str, quote: str) -> bool:
    """A quoted sentence is supported by a gold quote (``eval/answer_score.py``'s rule)."""
    s, q = fold(sentence), fold(quote)
    if not s or not q:
        return False
    if s in q or q in s:
        return True
    m = SequenceMatcher(None, s, q, autojunk=False).find_longest_match(0, len(s), 0, len(q))
    return m.size >= min(0.6 * len(s), 80)


def score_answers(gold: Sequence[dict], answers: dict[str, list[str]]) -> dict[str, float]:
    """Answer metrics for gold rows and answers (query id → quoted sentences; empty = abstained)."""
    answerable = [g for g in gold if g["relevant"]]
    unanswerable = [g for g in gold if not g["relevant"]]
    out: dict[str, float] = {}
    if answerable:
        answered = first = any3 = 0
        for g in answerable:
            sents = answers.get(g["id"], [])[:3]
            quotes = [r["quote"] for r in g["relevant"]]
            answered += bool(sents)
            first += bool(sents) and any(supported(sents[0], q) for q in quotes)
            any3 += any(supported(s, q) for s in sents for q in quotes)
        n = len(answerable)
        out.update({"answered": answered / n, "support@1": first / n, "support@3": any3 / n,
                    "precision@1": first / answered if answered else 0.0})
    if unanswerable:
        out["abstain"] = sum(not answers.get(g["id"]) for g in unanswerable) / len(unanswerable)
    return out


def verdict_counts(gold: Sequence[dict], verdicts: dict[str, str]) -> dict[str, Any]:
    """How the questions were met, beyond the scorer's figures: per verdict ("answered",
    "uncertain", "none", "refused": a question kb would not take) the number of answerable and
    unanswerable questions, the share of each group left uncertain, and ``abstain_tried``: the
    share of the unanswerable questions kb tried (not refused) that got no answer."""
    out: dict[str, Any] = {}
    for name, rows in (("answerable", [g for g in gold if g["relevant"]]),
                       ("unanswerable", [g for g in gold if not g["relevant"]])):
        counts = {v: sum(verdicts.get(g["id"]) == v for g in rows) for v in VERDICT_NAMES}
        out[name] = {**counts, "uncertain_share": counts["uncertain"] / len(rows) if rows else 0.0}
    un = out["unanswerable"]
    tried = sum(un[v] for v in VERDICT_NAMES if v != "refused")
    out["refused"] = out["answerable"]["refused"] + un["refused"]
    out["abstain_tried"] = (un["uncertain"] + un["none"]) / tried if tried else 0.0
    return out


VERDICT_NAMES = ("answered", "uncertain", "none", "refused")


def evaluate_answers(gold: Sequence[dict], answers: dict[str, list[str]],
                     verdicts: dict[str, str] | None = None) -> dict[str, Any]:
    """Answer metrics overall and per question type (the scorer's rule: an empty answer is an
    abstention, a refused question included); with ``verdicts`` (query id -> verdict) also
    :func:`verdict_counts`."""
    by_type: dict[str, list[dict]] = defaultdict(list)
    for g in gold:
        by_type[g.get("type") or "-"].append(g)
    out = {
        "queries": len(gold),
        "overall": score_answers(gold, answers),
        "by_type": {t: {"n": len(rows), **score_answers(rows, answers)} for t, rows in sorted(by_type.items())},
    }
    if verdicts is not None:
        out["verdicts"] = verdict_counts(gold, verdicts)
    return out


def format_answer_table(result: dict[str, Any]) -> str:
    """The answer metrics as a text table (a dash where a metric does not apply), and with
    verdicts a line on the uncertain and refused questions."""
    def row(name: str, m: dict[str, float]) -> str:
        return f"{name:<18}" + "".join(f"{m[k]:>13.3f}" if k in m else f"{'–':>13}" for k in ANSWER_METRICS)

    lines = [f"{'':<18}" + "".join(f"{k:>13}" for k in ANSWER_METRICS),
             row(f"all ({result['queries']})", result["overall"])]
    lines += [row(f"{t} ({v['n']})", v) for t, v in result["by_type"].items()]
    v = result.get("verdicts")
    if v:
        a, u = v["answerable"], v["unanswerable"]
        lines += ["", f"uncertain: {a['uncertain']} answerable, {u['uncertain']} unanswerable (quotes shown, "
                  f"marked for checking; counted as no answer); refused: {v['refused']} "
                  f"({a['refused']} answerable, {u['refused']} unanswerable)",
                  f"abstain over the {sum(u[k] for k in ('answered', 'uncertain', 'none'))} unanswerable questions "
                  f"tried (refused left out): {v['abstain_tried']:.3f}"]
    return "\n".join(lines)
