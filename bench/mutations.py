"""The mutation set of the checker of generated answers: kb's own sources, changed one way, and what
the checker lets through, measured through ``kb ask --generate --json`` with a scripted fake model.

    python bench/mutations.py --index INDEX [--out docs/generate.md] [--set eval/mutations]

For every question of eval/dev.jsonl (split "dev": the checker may be tuned on these) and of
eval/extra/questions.jsonl (split "extra": held out, only reported), ``kb ask --json`` gives the top 5
hits, the sources a generated answer is asked from. Every sentence of those passages (kb's sentences as
the checker cuts them, 4+ words) that has a number, a year, a direction word (kb/data/antonyms.tsv) or a
negation becomes:

- lies, one change each: ``number_changed`` (last digit +1), ``sign_flipped``, ``number_moved`` (a
  figure of another sentence of the same passage put in its place), ``numbers_swapped`` (two figures of
  the sentence exchanged: caught only when they stand in different clauses), ``year_swapped`` (another
  year of the passage), ``antonym_swapped`` (the other side of its pair), ``negation_added`` ("inte"
  after the first finite verb), ``negation_dropped``, ``meaning_word_swapped`` (under/över, före/efter,
  inom/utanför, utan/med);
- controls that say the same: ``verbatim``, ``reordered`` (the two halves around its first comma
  swapped), ``inflected`` (a definite noun made indefinite, "underskottet" → "underskott"),
  ``attributed`` ("Enligt rapporten …").

All of a question's items go to a fake OpenAI-compatible server (tests/llmfake.py) that answers with
them, one a line, each with the [n] of its hit; ``kb ask --generate --json`` (kb.cli.main, in process)
checks them, and its ``supported`` flags are counted. The set is written to SET/mutations.jsonl.
"""
from __future__ import annotations

import argparse
import contextlib
import datetime
import io
import json
import os
import re
import subprocess
import sys
from collections import Counter, defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "tests")]  # this checkout's kb, and the fake server of the tests

import llmfake  # noqa: E402

from kb import open_index  # noqa: E402
from kb.analyze import Analyzer  # noqa: E402
from kb.answer.check import parse_sentences, sentence_spans  # noqa: E402
from kb.answer.facts import NEGATIONS, direction_forms, direction_of, find_numbers, is_year, normalize  # noqa: E402
from kb.cli import main  # noqa: E402
from kb.sentences import sentence_text  # noqa: E402

SECTION = """## Mutation set

Made by `python bench/mutations.py --index INDEX --out docs/generate.md [--baseline-root OLD_CHECKOUT]` on {date} (the set:
eval/mutations/, see its README). {n} sentences from kb's own top-5 sources for the 30 dev and the 30
held-out extra questions, {lies} of them changed one way (a lie), the rest saying the same (controls);
each sent by a scripted fake model with the [n] of its hit and checked by `kb ask --generate --json`.
A passage in the top 5 of several questions counts once. The checker was tuned on the dev rows only;
the extra rows are held out. Columns named after a baseline (`--baseline-root`) are the same sentences
checked by the kb of another checkout: "earlier checker" is kb 9298e99, whose check looked for each
word and figure anywhere in the cited passage.

{table}

"Supported" is what the check can say: the aligned source sentence says this. It is not a claim that
the sentence is true. The controls are close to the source by construction (verbatim, two halves
around a comma swapped, a definite noun made indefinite, "Enligt rapporten" in front); a model's real
paraphrase fails more often, and is then shown as "ej belagt".
"""
LIES = ("number_changed", "sign_flipped", "number_moved", "numbers_swapped", "year_swapped", "antonym_swapped", "negation_added",
        "negation_dropped", "meaning_word_swapped")
CONTROLS = ("verbatim", "reordered", "inflected", "attributed")
FINITE = ("är", "var", "har", "hade", "blev", "blir", "kan", "kunde", "ska", "skulle", "kommer", "finns", "fanns")
MEANING = {"under": "över", "över": "under", "före": "efter", "efter": "före", "inom": "utanför", "utan": "med"}
DROPPABLE = ("inte", "ej", "aldrig", "icke")


def _cased(new: str, old: str) -> str:
    return new[:1].upper() + new[1:] if old[:1].isupper() else new


def _sub_word(text: str, word: str, new: str) -> str:
    m = re.search(rf"(?<![^\W\d_]){re.escape(word)}(?![^\W\d_])", text, re.IGNORECASE)
    return "" if not m else text[: m.start()] + _cased(new, m.group(0)) + text[m.end():]


def _replace_number(text: str, n, new: str) -> str:
    at = text.find(n.text)
    return "" if at < 0 else text[:at] + new + text[at + len(n.text):]


def number_lies(t: str, passage_numbers: list) -> dict[str, str]:
    nums = find_numbers(t)
    out = {}
    figures = [n for n in nums if not is_year(n)]
    years = [n for n in nums if is_year(n)]
    if figures:
        n = figures[0]
        digits = list(re.finditer(r"\d", n.text))
        d = digits[-1]
        out["number_changed"] = _replace_number(t, n, n.text[: d.start()] + str((int(d.group()) + 1) % 10) + n.text[d.end():])
        at = t.find(n.text)
        if at > 0 and not t[at - 1].isalnum():  # "Q4" → "Q-4" is no sign
            out["sign_flipped"] = _replace_number(t, n, n.text.lstrip("-−– ") if n.sign else "-" + n.text.lstrip("+"))
        own = {(m.sign, m.value) for m in nums}
        moved = [m for m in passage_numbers if not is_year(m) and (m.sign, m.value) not in own
                 and (m.unit == n.unit or None in (m.unit, n.unit))]
        if moved:
            out["number_moved"] = _replace_number(t, n, moved[0].text)
        second = next((m for m in figures[1:] if (m.sign, m.value) != (n.sign, n.value) and m.text not in n.text
                       and n.text not in m.text), None)
        if second is not None:
            a, b = t.find(n.text), t.find(second.text, t.find(n.text) + len(n.text))
            if 0 <= a < b:
                out["numbers_swapped"] = t[:a] + second.text + t[a + len(n.text): b] + n.text + t[b + len(second.text):]
    if years:
        others = [m for m in passage_numbers if is_year(m) and m.value not in {y.value for y in years}]
        if others:
            out["year_swapped"] = _replace_number(t, years[0], others[0].text)
    return out


def word_lies(t: str) -> dict[str, str]:
    words = re.findall(r"[^\W\d_]+", t)
    lower = [w.lower() for w in words]
    out = {}
    for w in words:
        d = direction_of(w.lower())
        if d is None:
            continue
        forms = direction_forms()
        same = [f for f, x in forms.items() if x == d]
        other = [f for f, x in forms.items() if x == (d[0], 1 - d[1])]
        stem = next((f for f in same if w.lower().endswith(f) and len(f) == max(
            len(g) for g in same if w.lower().endswith(g))), w.lower())
        new = w.lower()[: len(w) - len(stem)] + other[min(same.index(stem), len(other) - 1)]
        out["antonym_swapped"] = _sub_word(t, w, new)
        break
    if not any(w in NEGATIONS for w in lower):
        verb = next((w for w in lower if w in FINITE), None)
        if verb:
            out["negation_added"] = _sub_word(t, verb, verb + " inte")
    neg = next((w for w in lower if w in DROPPABLE), None)
    if neg:
        m = re.search(rf"\s{neg}(?![^\W\d_])", t, re.IGNORECASE)
        if m:
            out["negation_dropped"] = t[: m.start()] + t[m.end():]
    meaning = next((w for w in lower if w in MEANING), None)
    if meaning:
        out["meaning_word_swapped"] = _sub_word(t, meaning, MEANING[meaning])
    return out


def _decap(s: str) -> str:
    return s[:1].lower() + s[1:] if s[1:2].islower() else s


def controls(t: str, analyzer: Analyzer) -> dict[str, str]:
    out = {"verbatim": t, "attributed": "Enligt rapporten " + _decap(t)}
    parts = t.split(", ", 1)
    if len(parts) == 2 and len(parts[0].split()) >= 2 and len(parts[1].split()) >= 2 and t[-1:] in ".!?":
        b = parts[1][:-1]
        out["reordered"] = b[:1].upper() + b[1:] + ", " + _decap(parts[0]) + t[-1]
    for w in re.findall(r"[^\W\d_]{5,}", t):
        for suffix in ("erna", "arna", "orna", "et", "en", "na"):
            base = w[: -len(suffix)]
            if w.endswith(suffix) and len(base) >= 4 and analyzer.term(base.lower()) == analyzer.term(w.lower()):
                out["inflected"] = _sub_word(t, w, base)
                return out
    return out


def items_of(question: dict, hits: list[dict], analyzer: Analyzer) -> list[dict]:
    """The mutations and controls of one question's top-5 passages."""
    items = []
    for h in hits[:5]:
        spans = [(a, b, " ".join(normalize(sentence_text(h["text"][a:b])).split())) for a, b in sentence_spans(h["text"])]
        passage_numbers = [n for _, _, t in spans for n in find_numbers(t)]
        for a, b, t in spans:
            if len(re.findall(r"[^\W\d_]{2,}", t)) < 4:
                continue
            nums = find_numbers(t)
            lies = {**number_lies(t, [n for n in passage_numbers if n not in nums]), **word_lies(t)}
            if not nums and not lies:
                continue
            for kind, text in {**controls(t, analyzer), **lies}.items():
                if text and (kind in CONTROLS or text != t):
                    items.append({"question": question["id"], "kind": kind, "lie": kind in LIES, "hit": h["rank"],
                                  "doc_id": h["doc_id"], "start": h["start"] + a, "end": h["start"] + b,
                                  "text": text})
    # one sentence each, as the checker parses it
    return [it for it in items if len(parse_sentences(f"{it['text']} [{it['hit']}]")) == 1]


def ask(question: str, index: str, generate: bool, kb_root: str | None = None) -> dict:
    """``kb ask --json [--generate]``: in process, or with the kb of another checkout (``kb_root``)."""
    args = ["ask", question, "--index", index, "--json", *(["--generate"] if generate else [])]
    if kb_root:
        run = subprocess.run([sys.executable, "-m", "kb.cli", *args], cwd=kb_root, capture_output=True, text=True)
        code, text = run.returncode, run.stdout
    else:
        out = io.StringIO()
        with contextlib.redirect_stdout(out):
            code = main(args)
        text = out.getvalue()
    if code != 0:
        raise SystemExit(f"kb ask failed ({code}) for {question!r}")
    return json.loads(text)


def run(index: str, questions: list[tuple[str, dict]], fake, kb_root: str | None = None) -> list[dict]:
    analyzer = open_index(index).analyzer
    done, seen = [], set()
    for i, (split, q) in enumerate(questions, 1):
        plain = ask(q["query"], index, False)
        items = []
        for it in items_of(q, plain["hits"], analyzer):  # a passage in the top 5 of several questions counts once
            if (split, it["kind"], it["doc_id"], it["start"], it["text"]) not in seen:
                seen.add((split, it["kind"], it["doc_id"], it["start"], it["text"]))
                items.append(it)
        if not items:
            continue
        fake.pieces = ("\n".join(f"{it['text']} [{it['hit']}]" for it in items),)
        got = ask(q["query"], index, True, kb_root)["generated"]["sentences"]
        if len(got) != len(items):
            raise SystemExit(f"{q['id']}: {len(items)} sentences sent, {len(got)} checked")
        for it, g in zip(items, got, strict=True):
            done.append(it | {"split": split, "supported": g["supported"], "reason": g["reason"]})
        print(f"{i:>3}/{len(questions)} {q['id']}: {len(items)} items", file=sys.stderr)
    return done


def shares(rows: list[dict]) -> dict[tuple[str, str], tuple[int, int]]:
    """(split, kind) → (supported, total)."""
    count: dict[tuple[str, str], Counter] = defaultdict(Counter)
    for r in rows:
        count[(r["split"], r["kind"])]["n"] += 1
        count[(r["split"], r["kind"])]["ok"] += r["supported"]
    return {k: (c["ok"], c["n"]) for k, c in count.items()}


def table(rows: list[dict], base: list[dict] | None = None, base_name: str = "") -> str:
    """Supported per kind and split; with ``base``, the same sentences under another checker too."""
    now, before = shares(rows), shares(base or [])
    head = "| kind | expected | dev: supported | extra (held out): supported |"
    if base:
        head += f" dev, {base_name} | extra, {base_name} |"
    lines = [head, "|" + "---|" * (head.count("|") - 1)]

    def cell(got: dict, split: str, kinds) -> str:
        ok = sum(got.get((split, k), (0, 0))[0] for k in kinds)
        n = sum(got.get((split, k), (0, 0))[1] for k in kinds)
        return f"{ok}/{n} ({100 * ok / n:.1f} %)" if n else "–"

    groups = [(k, "reject" if k in LIES else "pass", [k]) for k in (*LIES, *CONTROLS)]
    groups += [("**all lies**", "reject", LIES), ("**all controls**", "pass", CONTROLS)]
    for name, expected, kinds in groups:
        row = f"| {name} | {expected} | {cell(now, 'dev', kinds)} | {cell(now, 'extra', kinds)} |"
        if base:
            row += f" {cell(before, 'dev', kinds)} | {cell(before, 'extra', kinds)} |"
        lines.append(row)
    return "\n".join(lines)


def write_section(path: Path, section: str) -> None:
    """Replace (or add) the "## Mutation set" section of a Markdown file."""
    text = path.read_text(encoding="utf-8") if path.exists() else ""
    start = text.find("\n## Mutation set")
    if start >= 0:
        end = text.find("\n## ", start + 1)
        text = text[:start] + (text[end:] if end >= 0 else "")
    path.write_text(text.rstrip("\n") + "\n\n" + section.rstrip("\n") + "\n", encoding="utf-8")


def main_(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--index", required=True)
    p.add_argument("--set", default=str(ROOT / "eval" / "mutations"))
    p.add_argument("--splits", default="dev,extra")
    p.add_argument("--kb-root", help="check with the kb of this checkout (e.g. an older commit), not this one's")
    p.add_argument("--baseline-root", help="also check with the kb of this checkout, as a column of the table")
    p.add_argument("--baseline-name", default="baseline")
    p.add_argument("--out", help="write the table as the section 'Mutation set' of this Markdown file")
    p.add_argument("--show", type=int, default=0, help="print N lies marked supported and N controls rejected")
    a = p.parse_args(argv)
    files = {"dev": ROOT / "eval" / "dev.jsonl", "extra": ROOT / "eval" / "extra" / "questions.jsonl"}
    questions = [(s, json.loads(line)) for s in a.splits.split(",") for line in files[s].read_text().splitlines()
                 if line.strip()]
    with llmfake.FakeLLM("sse", ("",)) as fake:
        os.environ["KB_LLM_URL"], os.environ["KB_LLM_MODEL"] = fake.url, "mutations"
        rows = run(a.index, questions, fake, a.kb_root)
        base = run(a.index, questions, fake, a.baseline_root) if a.baseline_root else None
    out = Path(a.set)
    out.mkdir(parents=True, exist_ok=True)
    if not a.kb_root:  # the set and this checkout's verdicts
        (out / "mutations.jsonl").write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows))
    text = table(rows, base, a.baseline_name)
    print(text)
    if a.out:
        write_section(Path(a.out), SECTION.format(table=text, date=datetime.date.today().isoformat(),
                                                  n=len(rows), lies=sum(r["lie"] for r in rows)))
    for r in [r for r in rows if r["lie"] and r["supported"]][: a.show]:
        print(f"LIE {r['split']} {r['kind']}: {r['text']!r}")
    for r in [r for r in rows if not r["lie"] and not r["supported"]][: a.show]:
        print(f"CONTROL {r['split']} {r['kind']}: {r['text']!r}\n    {r['reason']}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main_())
