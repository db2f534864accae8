"""The index build that ``run.sh`` runs before the UI starts, said in Swedish.

``python -m kb.ui_build CORPUS INDEX`` builds or refreshes the index (the same build as ``kb ingest``)
and tells the person starting the UI what happens: before a first build how long it takes on a
small machine, during it one progress line with one count ("Bäddar in passager och
evidensmeningar: 1 200 av 4 951 – ungefär 4 minuter kvar", :func:`kb.ui_helpers.progress_sv`), and
after it what the index holds. Exit status as ``kb ingest``: 0 built or up to date, 1 nothing
could be indexed, 2 an error (one line).
"""
from __future__ import annotations

import sys
import time
from pathlib import Path
from typing import TextIO

from .errors import KBError
from .ingest.build import BuildConfig, BuildReport
from .location import FolderLocation, Location, ingest_any, parse_location
from .sanitize import safe_terminal
from .ui_helpers import count_sv, progress_sv

# measured on this 2-core machine on 2026-12-03: the bundled corpus's first build embedded for 466 s
# with other jobs running (about 8 minutes in all); 4–5 minutes when the machine is otherwise idle
FIRST_BUILD = ("Sökindexet byggs nu för första gången. För de fem medföljande rapporterna tar det 4–5 minuter "
               "på en ledig dator med två kärnor och omkring 8 minuter när datorn gör annat samtidigt "
               "(nästan all tid går åt till att bädda in passager och evidensmeningar).")
BAR = 24


def first_build(loc: Location) -> bool:
    """No published index yet (a folder without ``CURRENT``); a Milvus collection is not checked."""
    return isinstance(loc, FolderLocation) and not (loc.path / "CURRENT").is_file()


class ProgressLine:
    """One terminal line per build stage, redrawn in place on a terminal (else a line per tenth)."""

    def __init__(self, out: TextIO) -> None:
        self.out, self.tty = out, out.isatty()
        self.started: dict[str, float] = {}
        self.tenth: dict[str, int] = {}

    def __call__(self, stage: str, done: int, total: int) -> None:
        t0 = self.started.setdefault(stage, time.perf_counter())
        frac = done / total if total else 1.0
        text = progress_sv(stage, done, total, time.perf_counter() - t0)
        filled = int(BAR * min(1.0, frac))
        line = f"[{'#' * filled}{'.' * (BAR - filled)}] {text}"
        if self.tty:
            end = "\n" if done >= total else ""
            self.out.write(f"\r\033[K{line}{end}")
            self.out.flush()
        elif done >= total or int(frac * 10) > self.tenth.get(stage, -1):
            self.tenth[stage] = int(frac * 10)
            print(line, file=self.out, flush=True)


def summary(report: BuildReport, seconds: float) -> list[str]:
    """What the index holds after the build, in Swedish, and the files that could not be read."""
    docs = count_sv(report.documents, "rapport", "rapporter")
    passages = count_sv(report.passages, "passage", "passager")
    if report.refused:
        lines = [f"Inget nytt sökindex publicerades ({safe_terminal(report.refused)}); det gamla gäller: {docs}, "
                 f"{passages}."]
    elif not report.rebuilt:
        checked = f"{seconds:.2f}".replace(".", ",")
        lines = [f"Sökindexet är aktuellt: {docs}, {passages} (kontrollerat på {checked} s)."]
    else:
        minutes, secs = divmod(round(seconds), 60)
        took = f"{minutes} min {secs} s" if minutes else f"{secs} s"
        lines = [f"Sökindexet är byggt: {docs}, {passages} ({report.embedded} passager och "
                 f"{report.embedded_sentences} evidensmeningar inbäddade nu) på {took}."]
    lines += [f"  Kunde inte läsa {safe_terminal(f.path)}: {safe_terminal(f.reason)}" for f in report.failed]
    return lines


def main(argv: list[str] | None = None, out: TextIO = sys.stderr, config: BuildConfig = BuildConfig()) -> int:
    args = sys.argv[1:] if argv is None else argv
    if len(args) != 2:
        print("användning: python -m kb.ui_build RAPPORTMAPP INDEX", file=out)
        return 2
    try:
        loc = parse_location(args[1])
        if first_build(loc):
            print(FIRST_BUILD, file=out, flush=True)
        t0 = time.perf_counter()
        report = ingest_any([Path(args[0])], loc, config, progress=ProgressLine(out))
    except KBError as e:
        print(f"run.sh: sökindexet kunde inte byggas: {safe_terminal(e)}", file=out)
        return 2
    for line in summary(report, time.perf_counter() - t0):
        print(line, file=out)
    return 0 if report.documents > 0 and not report.refused else 1


if __name__ == "__main__":
    raise SystemExit(main())
