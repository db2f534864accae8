"""Generated answers on the dev set: how many sentences pass the check, how often kb falls back to
the extractive answer, latency; and the checker itself on verbatim and on corrupted sentences.

    python bench/generate.py --index index [--gold eval/dev.jsonl] [--limit N] [--out docs/generate.md]

Without ``KB_LLM_URL`` it starts llama-cpp-python's server with the base Gemma 3 270M model from PyPI
on 127.0.0.1 (tests/llmserver.py, 2 threads) and stops it afterwards; with ``KB_LLM_URL`` set it
uses that server. For each question: kb's search (top 5 hits), kb's extractive answer, and
:func:`kb.answer.generate.generate` over the same 5 passages.

The checker is also run, without any model, on
- the extractive answer sentences (quoted verbatim, so every one must pass, except a quote that
  runs into a passage next to its hit: a sentence that points back, begun in the passage before
  (kb.answer.extract.reach_back), or a lead-in quoted with the list that opens the passage after
  (kb.answer.extract.list_after); the checker reads only the hits),
- every prose or bullet sentence (4+ words, kb.sentences) of the 5 passages sent (verbatim too),
- corrupted copies of those sentences: a number changed (last digit +1, or the sign flipped), and
  the citation moved to another of the 5 passages (only when that passage does not itself
  contain the sentence). Each corrupted sentence should be rejected.
"""
from __future__ import annotations

import argparse
import platform
import re
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))  # the local server helper shared with the tests

from kb import open_index  # noqa: E402
from kb.answer.check import GeneratedSentence, build_evidence, check_sentence  # noqa: E402
from kb.answer.client import LLMSettings  # noqa: E402
from kb.answer.extract import answer  # noqa: E402
from kb.answer.facts import find_numbers  # noqa: E402
from kb.answer.generate import generate  # noqa: E402
from kb.answer.prompt import sources_from_hits  # noqa: E402
from kb.evaluate import load_jsonl  # noqa: E402
from kb.sentences import sentence_text, split_spans  # noqa: E402
from kb.text import fold  # noqa: E402

_DIGITS = re.compile(r"\d+")


def change_number(sentence: str) -> list[str]:
    """Copies of a sentence with its first number altered: the last digit +1, and the sign flipped."""
    nums = find_numbers(sentence)
    if not nums:
        return []
    n = nums[0]
    at = sentence.find(n.text)
    last = list(_DIGITS.finditer(n.text))[-1]
    d = last.group(0)
    bumped = n.text[: last.start()] + d[:-1] + str((int(d[-1]) + 1) % 10) + n.text[last.end():]
    unsigned = n.text.lstrip("-−–‑+ ")
    flipped = unsigned if n.sign else "-" + n.text
    return [sentence[:at] + v + sentence[at + len(n.text):] for v in (bumped, flipped)]


def passage_sentences(text: str) -> list[str]:
    """The quotable units of a passage (kb.sentences): prose and bullet units of at least 4 words."""
    units = [(sp.kind, sentence_text(text[sp.start : sp.end])) for sp in split_spans(text)]
    return [t for kind, t in units if kind in ("text", "bullet") and len(re.findall(r"[^\W\d_]{2,}", t)) >= 4]


def checker_rows(kb, results) -> dict:
    """The checker on verbatim sentences (must pass) and corrupted ones (must fail)."""
    a = kb.analyzer
    counts = {k: [0, 0] for k in ("answer", "passage", "number", "citation")}  # [passed, total]
    failures: list[str] = []
    for res, ans in results:
        sources = sources_from_hits(res.hits, 5)
        ev = build_evidence(sources, a)
        for s in ans.sentences:
            ok = check_sentence(GeneratedSentence(s.sentence, (s.hit_rank,)), ev, a)
            counts["answer"][0] += ok.supported
            counts["answer"][1] += 1
            if not ok.supported:
                failures.append(f"answer [{s.hit_rank}] {s.sentence!r}: {ok.reason}")
        for src in sources:
            for sent in passage_sentences(src.text):
                ok = check_sentence(GeneratedSentence(sent, (src.number,)), ev, a)
                counts["passage"][0] += ok.supported
                counts["passage"][1] += 1
                if not ok.supported:
                    failures.append(f"passage [{src.number}] {sent!r}: {ok.reason}")
                for bad in change_number(sent):
                    counts["number"][0] += check_sentence(GeneratedSentence(bad, (src.number,)), ev, a).supported
                    counts["number"][1] += 1
                for other in sources:
                    if other.number == src.number or fold(sent) in fold(other.text):
                        continue
                    counts["citation"][0] += check_sentence(GeneratedSentence(sent, (other.number,)), ev, a).supported
                    counts["citation"][1] += 1
    return {"counts": counts, "failures": failures}


def run_generation(kb, gold, settings: LLMSettings):
    rows = []
    for i, g in enumerate(gold, 1):
        res = kb.search(g["query"], k=5)
        gen = generate(settings, g["query"], sources_from_hits(res.hits, 5), kb.analyzer)
        rows.append((g, gen))
        ok = sum(s.supported for s in gen.sentences)
        print(f"{i:>3}/{len(gold)} {gen.seconds:6.1f} s  {ok}/{len(gen.sentences)} supported"
              f"{'  fallback' if gen.fallback else ''}{'  ERROR ' + gen.error if gen.error else ''}", file=sys.stderr)
    return rows


def pct(a: int, b: int) -> str:
    return f"{a}/{b} ({100 * a / b:.1f} %)" if b else "0/0"


def report(args, settings, gen_rows, check, server_cmd) -> str:
    sents = [s for _, g in gen_rows for s in g.sentences]
    sup = sum(s.supported for s in sents)
    fb = sum(g.fallback for _, g in gen_rows)
    errs = sum(g.error is not None for _, g in gen_rows)
    cited = sum(bool(s.citations) for s in sents)
    lat = sorted(g.seconds for _, g in gen_rows)
    reasons: dict[str, int] = {}
    for s in sents:
        if not s.supported:
            key = s.reason.split(":")[0]
            reasons[key] = reasons.get(key, 0) + 1
    c = check["counts"]
    rej = lambda k: pct(c[k][1] - c[k][0], c[k][1])  # noqa: E731
    both = (c["number"][1] - c["number"][0]) + (c["citation"][1] - c["citation"][0])
    gold = Path(args.gold).resolve()
    gold_shown = gold.relative_to(ROOT) if gold.is_relative_to(ROOT) else gold
    lines = [
        "# Generated answers: measured",
        "",
        f"Made by `python bench/generate.py --index {args.index} --gold {gold_shown}"
        + (f" --limit {args.limit}" if args.limit else "") + "` "
        f"on {time.strftime('%Y-%m-%d')} ({platform.machine()}, {platform.python_version()}).",
        "",
        f"Server: `{settings.display_url()}`, model `{settings.model}`, max_tokens {settings.max_tokens}, "
        f"temperature {settings.temperature:g}." + (f" Started by the script: `{server_cmd}`." if server_cmd else ""),
        f"Questions: {len(gen_rows)} of `{gold_shown}`" + (" (a subset: the first N)" if args.limit else "") +
        "; the top 5 hits of kb's hybrid search are the sources.",
        "",
        "## The model's answers through the check",
        "",
        "| measure | value |",
        "|---|---|",
        f"| generated sentences | {len(sents)} |",
        f"| sentences that cite a source | {pct(cited, len(sents))} |",
        f"| sentences that pass the check (shown as supported) | {pct(sup, len(sents))} |",
        f"| questions that fall back to the extractive answer | {pct(fb, len(gen_rows))} |",
        f"| of which server errors | {errs} |",
        f"| latency p50 / max (whole answer, streamed) | {statistics.median(lat):.1f} s / {lat[-1]:.1f} s |" if lat else "",
        "",
        "Why sentences failed: " + (", ".join(f"{k} {v}" for k, v in sorted(reasons.items(), key=lambda x: -x[1])) or "none") + ".",
        "",
        "The base Gemma 3 270M is not instruction-tuned and its GGUF has no chat template: it mostly echoes or",
        "continues the prompt and seldom writes [n]. Poor answers are expected; what matters is that nothing",
        "unsupported is shown as supported, and that the page then falls back to the quoted answer.",
        "",
        "## The checker alone (no model)",
        "",
        "| sentences | expected | result |",
        "|---|---|---|",
        f"| extractive answer sentences, citing their hit | pass | {pct(c['answer'][0], c['answer'][1])} pass |",
        f"| every prose/bullet sentence (4+ words) of the 5 passages, citing its passage | pass | {pct(c['passage'][0], c['passage'][1])} pass |",
        f"| corrupted: a number changed (last digit +1, or sign flipped) | reject | {rej('number')} rejected |",
        f"| corrupted: citation moved to another of the 5 passages | reject | {rej('citation')} rejected |",
        f"| corrupted, both kinds | reject | {pct(both, c['number'][1] + c['citation'][1])} rejected |",
        "",
    ]
    cited_examples = [(g["query"], s) for g, gen in gen_rows for s in gen.sentences if s.citations][:8]
    if cited_examples:
        lines += ["Sentences of the model that cite a source, with the verdict (the first 8):", ""]
        lines += [f"- {q!r}: \"{s.text[:160]}\" {list(s.citations)} → "
                  f"{'supported' if s.supported else 'ej belagt: ' + s.reason[:120]}" for q, s in cited_examples]
        lines += [""]
    first = next(((g["query"], gen.text) for g, gen in gen_rows if gen.text.strip()), None)
    if first:
        lines += [f"The model's whole answer to {first[0]!r}, as streamed (first 600 characters):", "",
                  "```text", first[1][:600].replace("`", "'"), "```", ""]
    if check["failures"]:
        lines += ["Verbatim sentences that did not pass:", ""] + [f"- {f}" for f in check["failures"][:20]] + [""]
    return "\n".join(x for x in lines if x is not None)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--index", default="index")
    ap.add_argument("--gold", default=str(ROOT / "eval" / "dev.jsonl"))
    ap.add_argument("--limit", type=int, default=0, help="only the first N questions")
    ap.add_argument("--max-tokens", type=int, default=160)
    ap.add_argument("--out", type=Path, default=None)
    ap.add_argument("--checker-only", action="store_true", help="no model: only the checker on verbatim/corrupted sentences")
    args = ap.parse_args()
    kb = open_index(args.index)
    gold = load_jsonl(Path(args.gold))[: args.limit or None]
    results = []
    for g in gold:
        res = kb.search(g["query"], k=5)
        results.append((res, answer(kb, res)))
    check = checker_rows(kb, results)
    if args.checker_only:
        print(check["counts"])
        print("\n".join(check["failures"]))
        return 0
    settings = LLMSettings.from_env()
    server_cmd = ""
    if settings is None:
        import llmserver

        log = Path(tempfile.mkdtemp()) / "server.log"
        srv = llmserver.LocalServer(log).start()
        server_cmd = " ".join(srv.command[1:]).replace(str(llmserver.model_path()), "gemma-3-270m-q4_k_m.gguf")
        srv.warm_up()
        settings = LLMSettings(srv.url, llmserver.ALIAS, timeout=600, max_tokens=args.max_tokens)
        try:
            gen_rows = run_generation(kb, gold, settings)
        finally:
            srv.stop()
    else:
        gen_rows = run_generation(kb, gold, settings)
    text = report(args, settings, gen_rows, check, server_cmd)
    print(text)
    if args.out:
        old = args.out.read_text(encoding="utf-8") if args.out.exists() else ""
        keep = old[old.find("\n## Mutation set"):] if "\n## Mutation set" in old else ""  # bench/mutations.py's
        usage = old[: old.find("# Generated answers: measured")] if "# Generated answers: measured" in old else ""
        args.out.write_text(usage + text.rstrip("\n") + "\n" + keep, encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
