"""``kb eval``: retrieval metrics on gold files, or with ``--answers`` the answers' scores, or with
``--series`` the figure series' scores; runs and answers written to files on request."""
from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

from ..contract import answer_error_json, answer_json, hits_json
from ..errors import KBError
from ..sanitize import safe_terminal
from .args import filters_of, open_kb
from .ask import ask_one


def check_output_path(path: Path | None, option: str) -> None:
    """Refuse an output file that cannot be written, before any work is done."""
    if path is None:
        return
    if path.is_dir():
        raise KBError(f"{option} {path} is a folder; give a file name")
    if not path.parent.is_dir():
        raise KBError(f"{option} {path}: the folder {path.parent} does not exist; create it first")


def write_output(path: Path, text: str, option: str) -> None:
    """Write an output file atomically (aside, then renamed): a failure leaves an older file as it was."""
    from ..files import atomic_write_bytes

    try:
        atomic_write_bytes(path, text.encode("utf-8", "replace"))
    except OSError as e:
        raise KBError(f"cannot write {option} {path}: {e.strerror or e}") from None


def cmd_eval(a: argparse.Namespace) -> int:
    from ..evaluate import evaluate_run, format_table, load_gold, trec_lines
    for path, option in ((a.run_out, "--run-out"), (a.trec_out, "--trec-out"), (a.answers_out, "--answers-out")):
        check_output_path(path, option)
    if a.series:
        return eval_series(a)
    gold = [g for path in a.gold for g in load_gold(path)]
    if len({g["id"] for g in gold}) < len(gold):
        raise KBError("the gold files share query ids; ids must be unique across the files")
    kb = open_kb(a)
    if a.answers:
        return eval_answers(kb, gold, a)
    gold = [g for g in gold if g["relevant"]]
    if not gold:
        raise KBError("the gold files have no answerable questions (rows with \"relevant\" quotes); "
                      "use --answers to score abstentions")
    filters = filters_of(a)
    run: dict[str, list[str]] = {}
    run_rows, trec = [], []
    times = []
    for g in gold:
        t = time.perf_counter()
        res = kb.search(g["query"], k=a.k, filters=filters, mode=a.mode, use_query_years=not a.no_query_year)
        times.append(time.perf_counter() - t)
        hits = hits_json(res.hits)
        run[g["id"]] = [h["text"] for h in hits]
        run_rows.append({"query_id": g["id"], "hits": hits})
        trec.extend(trec_lines(g["id"], hits))
    result = evaluate_run(gold, run, k=a.k)
    if a.run_out:
        write_output(a.run_out, "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in run_rows), "--run-out")
    if a.trec_out:
        write_output(a.trec_out, "\n".join(trec) + "\n", "--trec-out")
    times.sort()
    if a.json:
        print(json.dumps({k: v for k, v in result.items()}, indent=1))
    else:
        print(safe_terminal(format_table(result), keep_newlines=True))
        print(f"\nquery latency p50 {1000 * times[len(times) // 2]:.1f} ms over {len(times)} queries ({a.mode})")
    return 0


def eval_series(a: argparse.Namespace) -> int:
    """`kb eval --series`: the series of every gold question, scored by kb.series_score."""
    from ..evaluate import read_jsonl_objects, row_id, row_query
    from ..series import series
    from ..series_score import evaluate_series, format_series_table

    rows = []
    for path in a.gold:
        for n, row in read_jsonl_objects(path, "gold file"):
            where = f"gold file {path}"
            if not isinstance(row.get("series"), list):
                raise KBError(f"{where} line {n}: \"series\" must be a list of {{year, value, doc}} objects")
            rows.append({**row, "id": row_id(row, n, where), "query": row_query(row, n, where)})
    kb = open_kb(a)
    returned, times = {}, []
    for r in rows:
        t = time.perf_counter()
        entries = series(kb, r["query"], filters=filters_of(a), mode=a.mode, use_query_years=not a.no_query_year)
        times.append(time.perf_counter() - t)
        returned[r["id"]] = [e.to_json() for e in entries]
    result = evaluate_series(rows, returned)
    inside = sum(e["value"] in e["quote"] for es in returned.values() for e in es)
    total = sum(len(es) for es in returned.values())
    if a.json:
        print(json.dumps({**result, "values_in_quotes": inside, "entries": total}, indent=1))
        return 0
    times.sort()
    print(safe_terminal(format_series_table(result), keep_newlines=True))
    print(f"\nvalues standing in their quotes: {inside}/{total}; "
          f"series p50 {1000 * times[len(times) // 2]:.1f} ms over {len(times)} questions")
    return 0


def eval_answers(kb, gold: list[dict], a: argparse.Namespace) -> int:
    """`kb eval --answers`: answer every gold question as `kb ask` does and score the quotes."""
    from ..answer.extract import QuestionError
    from ..evaluate import evaluate_answers, format_answer_table

    rows = []
    for g in gold:
        try:
            res, ans = ask_one(kb, g["query"], a)
        except QuestionError as e:
            rows.append(answer_error_json("query_id", g["id"], str(e)))
            continue
        rows.append(answer_json("query_id", g["id"], res, ans, a.k))
    if a.answers_out:
        write_output(a.answers_out, "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), "--answers-out")
    answers = {r["query_id"]: [s["sentence"] for s in r["answer"]] for r in rows}
    result = evaluate_answers(gold, answers, {r["query_id"]: r["verdict"] for r in rows})
    print(json.dumps(result, indent=1) if a.json else safe_terminal(format_answer_table(result), keep_newlines=True))
    return 0
