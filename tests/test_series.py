"""Series answers (kb.series, kb.figures): which questions ask for figures over years, which
figures match, and the JSON and human output of `kb ask` (small hash-embedder index)."""
import json

from kb.analyze import Analyzer
from kb.cli import main as kb_main
from kb.figures import table_figures
from kb.series import CUE_WORDS, in_years, is_series_question, label_match, terms_of

TABLE_DOC = (
    " Personal\n"
    "Leanlink redovisar personalstatistik för hela förvaltningen nedan i tabellform.\n\n"
    "Personal 2019 2020 2021 2022 2023\n"
    "Antal tillsvidareanställda 2185 2249 2267 2377 2488\n"
    "Total sjukfrånvaro 7.9 10.6 9.8 10.5 9.7\n"
    "Män 6,1 7,0 6,5 7,7 7,2\n\n"
    "Kommentar\n\nSjukfrånvaron har minskat under året jämfört med föregående år.\n"
)


def test_series_questions_need_years_or_a_cue():
    assert is_series_question("Hur har sjukfrånvaron utvecklats?")
    assert is_series_question("Sjukfrånvaro 2021 och 2022")
    assert is_series_question("Antal vårddygn år för år?")
    assert not is_series_question("Varför gick Leanlink med underskott 2023?")


def test_label_matches_when_half_its_words_are_asked_for():
    an = Analyzer()
    q = terms_of(an, "Hur har den totala sjukfrånvaron inom Leanlink utvecklats?", CUE_WORDS)
    assert label_match(an, q, "Total sjukfrånvaro") is not None
    assert label_match(an, q, "Män") is None
    assert label_match(an, q, "Chefers sjukfrånvaro av arbetstid") is None


def test_table_figures_quote_header_and_row_and_hold_the_value():
    figs = table_figures("d", TABLE_DOC)
    sick = [f for f in figs if f.label == "Total sjukfrånvaro"]
    assert [(f.year, f.value, f.number) for f in sick] == [
        (2019, "7.9", 7.9), (2020, "10.6", 10.6), (2021, "9.8", 9.8), (2022, "10.5", 10.5), (2023, "9.7", 9.7)]
    assert all(f.quote.startswith("Personal 2019 2020 2021 2022 2023 / Total sjukfrånvaro") and f.value in f.quote
               for f in sick)
    assert all(TABLE_DOC[f.start:f.end] == "Total sjukfrånvaro 7.9 10.6 9.8 10.5 9.7" for f in sick)
    assert in_years(sick, (2021, 2022)) == sick[2:4]


def test_kb_ask_json_gives_the_series(tmp_path, capsys):
    from kb.ingest.build import BuildConfig, build_index

    corpus = tmp_path / "c"
    corpus.mkdir()
    (corpus / "leanlink-verksamhetsberattelse-2023.txt").write_text(TABLE_DOC, encoding="utf-8")
    root = tmp_path / "idx"
    build_index([corpus], root, BuildConfig(embedder="hash:64"))
    q = "Hur har den totala sjukfrånvaron utvecklats 2021–2023?"
    assert kb_main(["ask", q, "--index", str(root), "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    got = [(e["year"], e["value"], e["kind"]) for e in out["series"]]
    assert got == [(2021, "9.8", "okänd"), (2022, "10.5", "okänd"), (2023, "9.7", "okänd")]
    e = out["series"][0]
    assert set(e) == {"metric", "year", "value", "number", "unit", "kind", "quote", "doc_id", "start", "end", "citation"}
    assert e["value"] in e["quote"] and "Personal 2019" in e["quote"] and "rad 6" in e["citation"]
    assert kb_main(["ask", q, "--index", str(root)]) == 0
    human = capsys.readouterr().out
    assert "Över åren:" in human and "Personal 2019 2020 2021 2022 2023 / Total sjukfrånvaro" in human
    assert kb_main(["ask", "Varför minskade sjukfrånvaron?", "--index", str(root), "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["series"] == []


def test_sentence_figures_only_with_a_stated_year():
    from kb.figures import figures_in_sentence

    assert figures_in_sentence("Nuvarande pensionsålder är 65,2 år, jämfört med 64,8 år under 2022.", 2023) == [
        (2023, "65,2", "år", "pensionsålder"), (2022, "64,8", "år", "pensionsålder")]
    got = figures_in_sentence("Årets underskott i hemtjänsten uppgår till -31,8 mnkr (för 2018 uppgick underskottet "
                              "till -37,7 mnkr).", 2019)
    assert [(y, v) for y, v, _, _ in got] == [(2019, "-31,8"), (2018, "-37,7")]
    assert figures_in_sentence("Kostnaderna ökade med 5 mnkr jämfört med budget.", 2019) == []  # no year stated
    assert figures_in_sentence("Leanlinks investeringar uppgår till 2,1 mnkr 2023.", None) == [
        (2023, "2,1", "mnkr", "Leanlinks investeringar")]


def test_cause_questions_and_budget_comparisons_are_no_series():
    assert not is_series_question("Varför förbättrades resultatet 2019 jämfört med året innan?")
    assert not is_series_question("Vad kostade placeringarna 2019 jämfört med budget?")
    assert is_series_question("Hur stort var underskottet 2019 jämfört med 2018?")


def test_a_quoted_table_row_knows_its_header(tmp_path):
    from kb import open_index
    from kb.ingest.build import BuildConfig, build_index
    from kb.series import row_header

    corpus = tmp_path / "c"
    corpus.mkdir()
    (corpus / "leanlink-verksamhetsberattelse-2023.txt").write_text(TABLE_DOC, encoding="utf-8")
    build_index([corpus], tmp_path / "idx", BuildConfig(embedder="hash:64"))
    kb = open_index(tmp_path / "idx")
    row = "Total sjukfrånvaro 7.9 10.6 9.8 10.5 9.7"
    a = TABLE_DOC.index(row)
    assert row_header(kb, "leanlink-verksamhetsberattelse-2023", a, a + len(row)) == "Personal 2019 2020 2021 2022 2023"
    prose = TABLE_DOC.index("Leanlink redovisar")
    assert row_header(kb, "leanlink-verksamhetsberattelse-2023", prose, prose + 20) is None


def test_render_rows_for_the_ui():
    from kb.series import SeriesEntry, render_rows

    e = SeriesEntry("Total sjukfrånvaro", 2021, "9.8", 9.8, None, "okänd", "Personal 2021 / Total sjukfrånvaro 9.8",
                    "d", 0, 10, "Rapport, rad 3")
    assert render_rows([e]) == [{"År": 2021, "Värde": "9.8", "Tal": 9.8, "Enhet": "", "Slag": "okänd",
                                 "Mått": "Total sjukfrånvaro", "Källa": "Rapport, rad 3",
                                 "Citat": "Personal 2021 / Total sjukfrånvaro 9.8"}]
