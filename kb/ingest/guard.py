"""When a build may publish: pure rules that protect the live index from a careless ingest.

A build makes the index hold exactly the documents found under the paths it was given. Two
mistakes would silently empty or shrink a good index, and both are refused unless the user says
``replace`` (``kb ingest --replace``):

* :func:`outside_removals`: the build would remove documents that are *not under* the given
  paths (``kb ingest one-file.txt`` against an index of a whole folder). This is known right
  after the scan, before any reading, and is an error that names one such document.
* :func:`publish_refusal`: the build would leave no document at all (an empty folder, every
  file failed, every file deleted). Known after reading, before embedding: nothing is
  published, the previous index stays live and the embedding cache is not touched.
"""
from __future__ import annotations

import os
from collections.abc import Iterable, Mapping
from pathlib import Path

from ..errors import KBError


def _under(real: str, given: Iterable[str]) -> bool:
    return any(real == g or real.startswith(g.rstrip(os.sep) + os.sep) for g in given)


def outside_removals(removed: Mapping[str, str], paths: Iterable[Path]) -> list[str]:
    """The removed documents (real path -> path as stored) that lie outside every given path;
    both sides are compared as real paths, so the working folder and the spelling do not matter."""
    given = [os.path.realpath(p) for p in paths]
    return sorted(shown for real, shown in removed.items() if not _under(real, given))


def check_removals(removed: Mapping[str, str], paths: list[Path], root: Path | str, replace: bool) -> None:
    """Raise KBError when the build would drop documents (real path -> path as stored) from
    outside the given paths."""
    outside = outside_removals(removed, paths)
    if outside and not replace:
        raise KBError(
            f"this ingest would remove {len(outside)} document(s) that are not under the given paths "
            f"(e.g. {outside[0]}); the index at {root} is unchanged. Give their folders too, or pass "
            "--replace to make the index hold only the given paths"
        )


def publish_refusal(new_documents: int, previous_documents: int, root: Path | str, replace: bool,
                    failed: int = 0) -> str | None:
    """Why a build that read its files must not publish (None: publish). A build that leaves no
    document is refused unless ``replace`` empties an index on purpose (an empty folder); one
    whose every file failed never publishes, ``replace`` or not."""
    if new_documents > 0:
        return None
    if previous_documents == 0:
        return "nothing could be indexed; no index was written"
    if not replace:
        return (f"this ingest would remove every document ({previous_documents}) from the index; the index at "
                f"{root} is unchanged. To really empty it, run `kb ingest EMPTY_FOLDER --index {root} --replace`")
    if failed:
        return (f"every file failed ({failed}), so --replace would empty the index; the index at {root} is "
                f"unchanged. To really empty it, run `kb ingest EMPTY_FOLDER --index {root} --replace`")
    return None
