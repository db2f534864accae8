"""``kb ingest``: build or update an index, with progress bars and a summary (exit codes in
:mod:`kb.cli`)."""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from ..sanitize import safe_terminal
from .args import root_of


def progress_factory(quiet: bool):
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
    from ..ingest.build import BuildConfig
    from ..location import embedder_of, ingest_any

    root = root_of(a)
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
    report = ingest_any(a.paths, root, config, progress=progress_factory(a.quiet or a.json),
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
