"""The evaluation files kept in eval/ are exact copies of the shared originals.

The project carries its own copies (a user's clone has no ../shared). Where ../shared/eval exists
beside the checkout (a developer's machine, CI), this test checks the copies are identical; in a
plain clone it is skipped with that reason and every other test still runs on the copies.
"""
from __future__ import annotations

import pytest
from conftest import EVAL, SHARED_EVAL

FILES = ("dev.jsonl", "dev-unanswerable.jsonl", "score.py", "answer_score.py")


@pytest.mark.parametrize("name", FILES)
def test_copy_matches_shared(name):
    original = SHARED_EVAL / name
    if not original.is_file():
        pytest.skip(f"{original} is not beside this checkout (a plain clone); nothing to compare")
    assert (EVAL / name).read_bytes() == original.read_bytes(), f"eval/{name} differs from {original}; copy it again"


def test_copies_exist():
    for name in FILES:
        assert (EVAL / name).is_file() and (EVAL / name).stat().st_size > 0
