"""The report part a figure stands in (kb.series_scope): a compiled report's parts, and keeping the
figures of the organisation a series question names (small hash-embedder index)."""
import json

from kb.cli import main as kb_main
from kb.figures import Figure
from kb.series_scope import cover_line, keep_in_scope, parts

PART = (
    "Verksamhetsberättelse 2023\n{org}\n\nNämndens uppdrag\n{org} ansvarar för sin verksamhet. {org} "
    "redovisar personalstatistik nedan.\n\nPersonal\n\nPersonal 2021 2022 2023\n"
    "Total sjukfrånvaro {a} {b} {c}\n\n"
)
COMPILED = (" Nämndens uppdrag\nKommunstyrelsen leder kommunen.\n\nPersonal 2021 2022 2023\n"
            "Total sjukfrånvaro 8,0 8,4 8,0\n\n"
            + PART.format(org="Verksamhetsstöd och service", a="4,6", b="7,0", c="6,3")
            + PART.format(org="Leanlink", a="9,8", b="10,5", c="9,7"))


def fig(doc: str, start: int) -> Figure:
    return Figure(doc, "Total sjukfrånvaro", 2023, "1", 1.0, "%", "okänd", "q", start, start + 1)


def test_a_compiled_report_splits_at_its_cover_lines():
    cover = cover_line("verksamhetsberättelse", 2023)
    spans = parts(COMPILED, cover)
    assert len(spans) == 3 and spans[0][0] == 0 and spans[-1][1] == len(COMPILED)
    assert COMPILED[spans[1][0]:].startswith("Verksamhetsberättelse 2023\nVerksamhetsstöd")
    assert parts("Ingen del här.\n", cover) == [(0, 15)]
    assert cover_line(None, 2023) is None


def test_keep_the_parts_naming_the_organisation_or_the_first_part():
    figs = [fig("ks", 10), fig("ks", 200), fig("ll", 5)]
    part_of = {10: ("ks", 0), 200: ("ks", 1), 5: ("ll", 0)}
    scores = {("ks", 0): 0.5, ("ks", 1): 3.0, ("ll", 0): 0.1}
    kept = keep_in_scope(figs, lambda f: part_of[f.start], scores, set(), {"ks"}, 1.0, 0.25)
    assert [f.start for f in kept] == [200]
    # a document of the named organisation stays, however densely it names it
    kept = keep_in_scope(figs, lambda f: part_of[f.start], scores, {"ll"}, {"ks"}, 1.0, 0.25)
    assert [f.start for f in kept] == [200, 5]
    # no organisation named: each report's first part holding the figure
    kept = keep_in_scope(figs, lambda f: part_of[f.start], {}, set(), {"ks"}, 1.0, 0.25)
    assert [f.start for f in kept] == [10, 5]


def test_kb_ask_json_gives_the_named_units_figures(tmp_path, capsys):
    from kb.ingest.build import BuildConfig, build_index

    corpus = tmp_path / "c"
    corpus.mkdir()
    (corpus / "kommunstyrelsen-verksamhetsberattelse-2023.txt").write_text(COMPILED, encoding="utf-8")
    root = tmp_path / "idx"
    build_index([corpus], root, BuildConfig(embedder="hash:64"))
    want = {"Verksamhetsstöd och service": ["4,6", "7,0", "6,3"], "Leanlink": ["9,8", "10,5", "9,7"],
            "kommunen": ["8,0", "8,4", "8,0"]}
    for org, values in want.items():
        q = f"Hur har den totala sjukfrånvaron inom {org} utvecklats 2021–2023?"
        assert kb_main(["ask", q, "--index", str(root), "--json"]) == 0
        out = json.loads(capsys.readouterr().out)
        assert [e["value"] for e in out["series"]] == values, org
