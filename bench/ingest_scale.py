"""Ingest time against document size: read + chunk + analyze of one text file, embedder excluded.

    python bench/ingest_scale.py [--min-mb 1] [--max-mb 200] [--repeats 3] [--shape lines|one-line|both]

For sizes 1, 2, 4, ... MiB up to ``--max-mb`` (default and ceiling: ``kb.ingest.discover.MAX_FILE_BYTES``)
a synthetic Swedish report is written to a temporary folder and run through the stages a build
runs before embedding: :func:`kb.ingest.read.read_document` (stat, hash, decode, metadata),
:func:`kb.ingest.chunk.chunk_document` (passages with line numbers) and the BM25 analysis of every
passage (:class:`kb.analyze.Analyzer` with the document's own lexicon). Two shapes: ordinary
lines of about 80 characters, and the whole document on one line (the case that once grew
quadratically). Prints the median seconds of the repeats and seconds per MiB; linear growth
shows as a flat s/MiB column. Run by hand; nothing here is part of the test suite.
"""
from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from kb.analyze import Analyzer, AnalyzerConfig, build_lexicon  # noqa: E402
from kb.ingest.build import retrieval_text  # noqa: E402
from kb.ingest.chunk import chunk_document  # noqa: E402
from kb.ingest.discover import MAX_FILE_BYTES  # noqa: E402
from kb.ingest.read import read_document  # noqa: E402
from kb.text import dehyphenate  # noqa: E402

SENTENCES = (
    "Hemtjänsten i Linköping fick {n} fler brukare och kostnaderna ökade med {m} mnkr.",
    "Underskottet inom LSS förklaras av personlig assistans där ersättningen inte täcker kostnaderna.",
    "Sjukfrånvaron var {m},{n} procent och personalomsättningen minskade inom äldreomsorgen.",
    "Nämnden redovisar ett resultat om {n} mnkr jämfört med budget för verksamhetsåret.",
)


def synthetic_text(n_bytes: int, one_line: bool) -> str:
    parts, size, i = [], 0, 0
    while size < n_bytes:
        s = SENTENCES[i % len(SENTENCES)].format(n=i % 997, m=i % 89)
        parts.append(s)
        size += len(s.encode("utf-8")) + 1
        i += 1
    if one_line:
        return " ".join(parts) + "\n"
    lines, line = [], []
    for s in parts:  # about 80 characters a line, a blank line between paragraphs of 8 lines
        line.append(s)
        if sum(map(len, line)) > 80:
            lines.append(" ".join(line))
            line = []
            if len(lines) % 9 == 8:
                lines.append("")
    lines.append(" ".join(line))
    return "\n".join(lines) + "\n"


def ingest_once(path: Path) -> tuple[float, int]:
    """Seconds for read + chunk + analyze of one file, and the number of passages."""
    t = time.perf_counter()
    doc = read_document(path, "bench")
    chunks = chunk_document(doc)
    analyzer = Analyzer(AnalyzerConfig(), build_lexicon([dehyphenate(doc.text)]))
    for c in chunks:
        analyzer.passage_terms(retrieval_text(doc, c, True))
    return time.perf_counter() - t, len(chunks)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--min-mb", type=int, default=1)
    ap.add_argument("--max-mb", type=int, default=MAX_FILE_BYTES // 2**20)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--shape", choices=("lines", "one-line", "both"), default="both")
    a = ap.parse_args()
    top = min(a.max_mb, MAX_FILE_BYTES // 2**20)
    sizes = [1]
    while sizes[-1] * 2 <= top:
        sizes.append(sizes[-1] * 2)
    if sizes[-1] != top:
        sizes.append(top)
    sizes = [mb for mb in sizes if mb >= a.min_mb]
    shapes = ("lines", "one-line") if a.shape == "both" else (a.shape,)
    print(f"{'shape':<9}{'MiB':>6}{'passages':>10}{'median s':>10}{'s/MiB':>8}   (read+chunk+analyze, "
          f"{a.repeats} repeats, no embedder)")
    with tempfile.TemporaryDirectory() as tmp:
        for shape in shapes:
            for mb in sizes:
                path = Path(tmp) / f"rapport-{shape}-{mb}.txt"
                path.write_text(synthetic_text(mb * 2**20 - 64, shape == "one-line"), encoding="utf-8")
                runs = [ingest_once(path) for _ in range(a.repeats)]
                med = statistics.median(r[0] for r in runs)
                print(f"{shape:<9}{mb:>6}{runs[0][1]:>10}{med:>10.2f}{med / mb:>8.2f}", flush=True)
                path.unlink()


if __name__ == "__main__":
    main()
