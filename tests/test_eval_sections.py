"""eval/sections: the hand-labelled sample of section names parses and is complete for its size."""
from __future__ import annotations

import importlib.util
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
spec = importlib.util.spec_from_file_location("sections", ROOT / "eval" / "sections" / "sections.py")
sections = importlib.util.module_from_spec(spec)
spec.loader.exec_module(sections)


def test_labelled_sample_parses():
    labels = sections.read_labels()
    assert len(labels) >= sections.SAMPLE
    assert {lab for lab, _ in labels.values()} == set(sections.KINDS)
    assert all(doc and heading for doc, heading in labels)
    # every "fel" says what it is instead, so a reader can check the label
    assert all(note for lab, note in labels.values() if lab == "fel")


def test_sample_is_deterministic_and_precision_is_computed():
    names = [("a", f"Rubrik {i}") for i in range(100)]
    assert sections.sample(names) == sections.sample(list(reversed(names)))
    assert len(sections.sample(names)) == sections.SAMPLE
    p, n, missing = sections.precision([("a", "X"), ("a", "Y"), ("a", "Z")], {("a", "X"): ("rubrik", ""),
                                                                           ("a", "Y"): ("fel", "namn")})
    assert (p, n, missing) == (0.5, 2, [("a", "Z")])
