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


def test_second_sample_parses_and_is_disjoint_from_the_first():
    first, second = sections.read_labels(), sections.read_labels(sections.LABELS_2)
    assert len(second) >= sections.SAMPLE
    assert not set(first) & set(second)
    assert all(note for lab, note in second.values() if lab == "fel")
    names = [("a", f"Rubrik {i}") for i in range(200)]
    one = sections.sample(names)
    two = sections.sample(names, seed="2", exclude=set(one))
    assert len(two) == sections.SAMPLE and not set(one) & set(two)


def test_fixed_scores_removed_names_and_lost_headings():
    labels = {("a", "X"): ("rubrik", ""), ("a", "Y"): ("fel", "rad"), ("a", "Z"): ("rubrik", "")}
    prec, kept, recall, lost = sections.fixed([("a", "X"), ("a", "Q")], labels)
    assert (prec, kept, recall, lost) == (1.0, 1, 0.5, 1)
