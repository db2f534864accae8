"""kb.tables: headers, rows and the certain mapping of values to years and kinds (no index)."""
from kb.tablecells import groupings, unique_grouping
from kb.tables import find_tables, parse_columns, row_quote


def cols(text):
    return [(c.year, c.kind) for c in parse_columns(text)]


def test_columns_kind_then_year_and_waiting_kinds():
    assert cols("Personal Utfall 2019 Budget 2020 Plan förslag 2022") == [(2019, "utfall"), (2020, "budget"), (2022, "plan")]
    assert cols("Driftsammandrag, netto tkr Bokslut Budget Avvikelse Bokslut Verksamhet 2019 2019 2018") == [
        (2019, "utfall"), (2019, "budget"), (None, "avvikelse"), (2018, "utfall")]
    assert cols("Ekonomi Bokslut 2023 Budget 2023 Avvikelse Bokslut 2022") == [
        (2023, "utfall"), (2023, "budget"), (None, "avvikelse"), (2022, "utfall")]
    assert cols("Personal 2019 2020 2021") == [(2019, "okänd"), (2020, "okänd"), (2021, "okänd")]
    assert cols("Personal Bokslut 2019 bokslut 2018 Målvärde helår") == [(2019, "utfall"), (2018, "utfall"), (None, "mål")]
    assert cols("Förvaltningsindikator 2019 2020 Målvärde 2021") == [(2019, "okänd"), (2020, "okänd"), (2021, "mål")]


def test_thousands_grouping_only_when_certain():
    assert unique_grouping(["206", "583", "259", "248"], 2) == ["206 583", "259 248"]
    assert unique_grouping(["5", "305", "0", "7", "900", "-2", "595", "5", "767"], 5) == ["5 305", "0", "7 900", "-2 595", "5 767"]
    # 4 values for 5 year columns cannot be placed: no grouping of 7 items into 5 is unique
    assert unique_grouping(["356", "812", "345", "681", "-", "349", "836"], 5) is None
    assert len(groupings(["165", "162", "169", "673"], 2)) == 3  # several readings; the equal-size one is unique
    assert unique_grouping(["165", "162", "169", "673"], 2) == ["165 162", "169 673"]


def test_table_rows_linked_to_header_with_exact_offsets():
    text = ("Inledning här.\n\nPersonal 2019 2020 2021 2022 2023 \n\nAntal tillsvidareanställda 2185 2249 2267 2377 2488 \n\n"
            "Total sjukfrånvaro 7.9 10.6 9.8 10.5 9.7 \n\nKommentar\n\nSjukfrånvaron har minskat under året jämfört med tidigare.\n")
    [t] = find_tables(text)
    assert t.header.text == "Personal 2019 2020 2021 2022 2023"
    assert text[t.header.start:t.header.end] == "Personal 2019 2020 2021 2022 2023"
    assert [r.label for r in t.rows] == ["Antal tillsvidareanställda", "Total sjukfrånvaro"]
    row = t.rows[1]
    assert text[row.start:row.end] == "Total sjukfrånvaro 7.9 10.6 9.8 10.5 9.7"
    assert row.mapped and [(c.text, c.number, c.year) for c in row.cells][:2] == [("7.9", 7.9, 2019), ("10.6", 10.6, 2020)]
    assert row_quote(t, row, text) == "Personal 2019 2020 2021 2022 2023 / Total sjukfrånvaro 7.9 10.6 9.8 10.5 9.7"


def test_tab_table_maps_cell_by_cell_and_skips_empty_cells():
    text = ("Personal\tUtfall 2019\tBudget 2020\tBudget 2021\tPlan 2022\n"
            "Total sjukfrånvaro\t8,0 %\t7,0 %\t7,0 %\t\n")
    [t] = find_tables(text)
    [row] = t.rows
    assert row.mapped
    assert [(c.text, c.number, c.year, c.kind, c.unit) for c in row.cells] == [
        ("8,0 %", 8.0, 2019, "utfall", "%"), ("7,0 %", 7.0, 2020, "budget", "%"), ("7,0 %", 7.0, 2021, "budget", "%")]


def test_uncertain_row_kept_unmapped_never_a_guessed_year():
    text = "Personal 2019 2020 2021\nÅrsarbetare 422 -\nTotal sjukfrånvaro 8,1 7,9 7,5\n"
    [t] = find_tables(text)
    first, second = t.rows
    assert not first.mapped and all(c.year is None and c.kind is None for c in first.cells)
    assert second.mapped


def test_trailing_target_column_may_be_empty_and_wrapped_fragments_are_read():
    text = ("uppnås Nämndindikator 2021 2022 2023\n\nÖns-\nkad\nrikt-\nning\n\n/värde\n2023\n\n"
            "Personalavgångar externt (%) 6,9 10,1 9,9\nDelvis Avgångsålder\npension* 64,7 64,6 65,2 66,4\n")
    [t] = find_tables(text)
    assert [(c.year, c.kind) for c in t.header.columns][-1] == (2023, "mål")
    a, b = t.rows
    assert a.mapped and [c.year for c in a.cells] == [2021, 2022, 2023]
    assert b.label == "Delvis Avgångsålder pension*" and text[b.start:b.end].startswith("Delvis Avgångsålder")
    assert [(c.year, c.kind) for c in b.cells][-1] == (2023, "mål")


def test_prose_with_years_is_no_table():
    assert find_tables("Under 2021 och 2022 har förvaltningen arbetat vidare med frågan om lokaler och kostnader.\n") == []
