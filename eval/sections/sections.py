"""Section names of the bundled corpus: a deterministic sample, labelled by hand, and its precision.

A *section name* is a heading the chunker (kb.ingest.chunk) put in a passage's section path (each
part of "A › B" counts once per report). The sample is the SAMPLE names with the smallest SHA-1 of
"doc_id\\theading", so it is the same on every run and for every version of the heading rule: a
rule that drops a name drops it from the pool and the next one by hash comes in.

labels.tsv holds one hand label per name: doc_id, heading (a tab in it written ``\\t``), label
(``rubrik``: a real heading of the report; ``fel``: not a heading — a person's name or signature,
a table label or row, a sentence fragment, a figure caption), and a note.

    python eval/sections/sections.py            # precision of the current rule on its sample
    python eval/sections/sections.py --list     # the sample, with labels (and the unlabelled ones)
"""
from __future__ import annotations

import argparse
import hashlib
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent.parent
LABELS = HERE / "labels.tsv"
SAMPLE = 60
KINDS = ("rubrik", "fel")


def read_labels(path: Path = LABELS) -> dict[tuple[str, str], tuple[str, str]]:
    """(doc_id, heading) -> (label, note) from the labelled file (a header line, tab-separated)."""
    out: dict[tuple[str, str], tuple[str, str]] = {}
    lines = path.read_text(encoding="utf-8").splitlines()
    for n, line in enumerate(lines[1:], 2):
        if not line.strip():
            continue
        parts = line.split("\t")
        if len(parts) != 4 or parts[2] not in KINDS:
            raise ValueError(f"{path.name}:{n}: expected doc_id, heading, label ({'/'.join(KINDS)}), note")
        out[(parts[0], parts[1].replace("\\t", "\t"))] = (parts[2], parts[3])
    return out


def section_names(corpus: Path = ROOT / "corpus") -> list[tuple[str, str]]:
    """Every distinct (doc_id, heading) in the passages' section paths, for the current chunker."""
    sys.path.insert(0, str(ROOT))
    from kb.ingest.chunk import SECTION_SEP, chunk_document
    from kb.ingest.read import read_document

    names: set[tuple[str, str]] = set()
    for path in sorted(p for p in corpus.iterdir() if p.suffix.lower() in (".txt", ".md", ".pdf")):
        doc = read_document(path, path.stem)
        for c in chunk_document(doc):
            for part in (c.section or "").split(SECTION_SEP):
                if part.strip():
                    names.add((doc.doc_id, part.strip()))
    return sorted(names)


def sample(names: list[tuple[str, str]], n: int = SAMPLE) -> list[tuple[str, str]]:
    """The n names with the smallest SHA-1 of "doc_id\\theading" (deterministic)."""
    return sorted(names, key=lambda x: hashlib.sha1(f"{x[0]}\t{x[1]}".encode()).hexdigest())[:n]


def precision(picked: list[tuple[str, str]], labels: dict) -> tuple[float, int, list[tuple[str, str]]]:
    """Share of labelled names that are real headings, the count labelled, and the unlabelled names."""
    known = [labels[x][0] for x in picked if x in labels]
    missing = [x for x in picked if x not in labels]
    return (known.count("rubrik") / len(known) if known else 0.0), len(known), missing


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--list", action="store_true", help="print the sample with its labels")
    a = ap.parse_args()
    names = section_names()
    picked = sample(names)
    labels = read_labels()
    if a.list:
        for doc_id, heading in picked:
            label, note = labels.get((doc_id, heading), ("?", ""))
            print(f"{doc_id}\t{heading.replace(chr(9), chr(92) + 't')}\t{label}\t{note}")
    p, n, missing = precision(picked, labels)
    print(f"section names: {len(names)}; sample {len(picked)}; labelled {n}; precision {p:.3f}")
    for x in missing:
        print(f"needs a label: {x[0]}\t{x[1]}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
