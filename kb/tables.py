"""Tables in converted report text: header lines that name columns (years and kinds) and the data
rows under them, each row linked to its header, each value mapped to a column only when the
mapping is certain. The one table detector of kb (the series answers and the UI use it).

Use::

    from kb.tables import find_tables
    for table in find_tables(doc.text):          # pure: a text in, records out
        table.header.text                          # the header as written (joined lines), text[header.start:header.end]
        for col in table.header.columns:           # Column(text, year, kind): year None when the header gives none
            ...
        for row in table.rows:                     # TableRow(label, cells, start, end, mapped)
            doc.text[row.start:row.end]            # the row exactly as in the document
            for cell in row.cells:                 # Cell(text, number, year, kind, unit)
                ...                                # year/kind None and row.mapped False when not certain

A quoted row should always be shown with its header: :func:`row_quote` gives "header / row".

Rules:

1. **Header**: a line holding two or more years, or a kind word followed by a year ("Utfall 2019"),
   and no other number. The line before it is part of it when it holds two or more kind words and
   no digit ("Driftsammandrag, netto tkr Bokslut Budget Avvikelse Bokslut" / "Verksamhet 2019 2019
   2018"); short fragments after it, before the first row, are read too ("Målvä" / "rde", "/värde" /
   "2023", a PDF's wrapped column titles).
2. **Columns** (:func:`parse_columns`): a kind word (Utfall/Bokslut → utfall, Budget, Plan,
   Prognos, Målvärde → mål, Avvikelse) followed by a year is one column; kind words without a year
   wait for the years that follow, in order (an Avvikelse column takes none); a bare year is a
   column of kind "okänd"; a kind word no year follows (a trailing "Målvärde") is a column without
   a year.
3. **Rows**: the lines after the header that end in a run of values (numbers with an optional
   sign, comparator, %, *; placeholders "-", "I.U."; a final direction word such as "Minska"),
   with the text before the run as label. The table ends at a prose line, a new header, a line
   starting "Kommentar", or after fifteen lines that are not rows (indicator tables wrap
   their goal texts over many short lines).
4. **Mapping** (never a guessed year): tab-separated rows under a tab-separated header map cell by
   cell. Otherwise the row's number tokens are grouped into values ("206 583" is one value when
   grouping is forced): a row maps when exactly one grouping gives as many values as columns (if
   several do, the one where every value has as many digit groups as the others, when unique), or
   as many values as the columns before trailing target (mål) columns (the target is left
   empty). Anything else keeps the row, its header and its raw values, with ``mapped`` False and
   every cell's year and kind None.
"""
from __future__ import annotations

import bisect
import re
from dataclasses import dataclass

from .tablecells import (
    parse_number,
    unique_grouping,
    unit_of,
    value_items,
    value_tokens,
)
from .text import YEAR_PATTERN, is_prose_line, is_year

KIND_WORDS = {"utfall": "utfall", "bokslut": "utfall", "budget": "budget", "plan": "plan",
              "prognos": "prognos", "målvärde": "mål", "avvikelse": "avvikelse"}
_NUM = re.compile(r"\d")
MAX_NON_ROWS = 15


@dataclass(frozen=True)
class Column:
    """One value column of a header: its title words, year (None when not given) and kind
    (utfall, budget, plan, prognos, mål, avvikelse or okänd)."""

    text: str
    year: int | None
    kind: str


@dataclass(frozen=True)
class TableHeader:
    text: str  # the header lines joined by spaces
    columns: tuple[Column, ...]
    start: int
    end: int
    tabbed: bool = False
    positions: tuple[int, ...] = ()  # tab-separated: the cell index of each column


@dataclass(frozen=True)
class Cell:
    text: str  # the value as written ("8,0 %", "206 583", "-", "≤6,0")
    number: float | None
    year: int | None
    kind: str | None
    unit: str | None


@dataclass(frozen=True)
class TableRow:
    label: str
    cells: tuple[Cell, ...]
    start: int
    end: int
    mapped: bool


@dataclass(frozen=True)
class Table:
    header: TableHeader
    rows: tuple[TableRow, ...]
    start: int
    end: int


def row_quote(table: Table, row: TableRow, text: str) -> str:
    """A row as quoted: its header, then the row, whitespace collapsed
    ("Personal 2019 2020 … / Total sjukfrånvaro 7.9 …")."""
    return " ".join(table.header.text.split()) + " / " + " ".join(text[row.start : row.end].split())


# -- header ---------------------------------------------------------------------------------


def _kind_of(token: str) -> str | None:
    t = token.lower().strip(",.:;()")
    if t in KIND_WORDS:
        return KIND_WORDS[t]
    if t.startswith(("målv", "/värde", "mål-")) or t == "värde":
        return "mål"
    return None


def parse_columns(text: str) -> tuple[Column, ...]:
    """The value columns a header names (rule 2 of the module docstring)."""
    tokens = text.replace("\t", " ").split()
    cols: list[list] = []  # [text, year, kind, waiting]
    i = 0
    while i < len(tokens):
        tok = tokens[i]
        kind = _kind_of(tok)
        if tok.lower() == "mål" and i + 1 < len(tokens) and is_year(tokens[i + 1]):
            kind = "mål"
        if kind:
            j = i + 1
            while j < len(tokens) and tokens[j].lower() in ("förslag", "helår", "rde"):
                j += 1
            if j < len(tokens) and is_year(tokens[j]):
                cols.append([" ".join(tokens[i : j + 1]), int(tokens[j]), kind, False])
                i = j + 1
                continue
            cols.append([tok, None, kind, kind != "avvikelse"])
        elif is_year(tok):
            waiting = next((c for c in cols if c[3]), None)
            if waiting is not None:
                waiting[1], waiting[3] = int(tok), False
                waiting[0] = f"{waiting[0]} {tok}"
            else:
                cols.append([tok, int(tok), "okänd", False])
        i += 1
    return tuple(Column(t, y, k) for t, y, k, _ in cols)


def is_header_line(line: str) -> bool:
    """Rule 1: two or more years, or a kind word and a year, and no other number."""
    s = line.strip()
    if "19" not in s and "20" not in s:  # no year can be in it (fast path: most lines)
        return False
    years = YEAR_PATTERN.findall(s)
    if not years or len(_NUM.findall(YEAR_PATTERN.sub("", s))) > 0:
        return False
    if len(years) >= 2:
        return len(s.split()) <= 30
    return any(_kind_of(t) and t.lower() != "värde" for t in s.split())


def _kinds_only(line: str) -> bool:
    s = line.strip()
    return bool(s) and not _NUM.search(s) and sum(1 for t in s.split() if _kind_of(t)) >= 2


# -- rows -----------------------------------------------------------------------------------


def _cells(values: list[str], cols: tuple[Column, ...] | None, label: str, header: str) -> tuple[Cell, ...]:
    out = []
    for i, v in enumerate(values):
        col = cols[i] if cols is not None else None
        out.append(Cell(v, parse_number(v), col.year if col else None, col.kind if col else None,
                        unit_of(v, label, header)))
    return tuple(out)


def _tab_row(line: str, header: TableHeader) -> tuple[str, tuple[Cell, ...], bool] | None:
    parts = [p.strip() for p in line.split("\t")]
    where = set(header.positions)
    label = " ".join(p for i, p in enumerate(parts) if i not in where and p)
    values = [(parts[i], c) for i, c in zip(header.positions, header.columns) if i < len(parts) and parts[i]]
    if not any(parse_number(v) is not None for v, _ in values) or not re.search(r"[^\W\d_]", label):
        return None
    stray = any(parse_number(p) is not None for i, p in enumerate(parts) if i not in where and p)
    if stray:
        return label, _cells([v for v, _ in values], None, label, header.text), False
    return label, _cells([v for v, _ in values], tuple(c for _, c in values), label, header.text), True


def parse_row(line: str, header: TableHeader) -> tuple[str, tuple[Cell, ...], bool] | None:
    """(label, cells, mapped) of a data row under ``header``, or None when the line is no row."""
    if header.tabbed and "\t" in line:
        return _tab_row(line, header)
    tokens = line.split()
    n = value_tokens(tokens)
    label = " ".join(tokens[: len(tokens) - n])
    items = value_items(tokens[len(tokens) - n :])
    if not items or not any(parse_number(x) is not None for x in items):
        return None
    if (label and not re.search(r"[^\W\d_]", label)) or len(label.split()) > 16:
        return None
    cols = header.columns
    trailing = 0
    while trailing < len(cols) - 1 and cols[len(cols) - 1 - trailing].kind == "mål":
        trailing += 1
    for width in dict.fromkeys((len(cols), len(cols) - trailing)):
        values = unique_grouping(items, width) if width > 0 else None
        if values is not None:
            return label, _cells(values, cols[:width], label, header.text), True
    return label, _cells(items, None, label, header.text), False


# -- tables ---------------------------------------------------------------------------------


def _offsets(lines: list[str]) -> list[int]:
    out, pos = [], 0
    for ln in lines:
        out.append(pos)
        pos += len(ln) + 1
    return out


def _fragment(line: str) -> bool:
    """A wrapped header fragment after the header line ("Målvä", "/värde", "2023")."""
    s = line.strip()
    return bool(s) and len(s.split()) <= 3 and not _NUM.search(YEAR_PATTERN.sub("", s))


def read_header(lines: list[str], offs: list[int], i: int) -> tuple[TableHeader, int]:
    """The header at line ``i`` (rule 1) and the index of the first line after it."""
    first = i - 1 if i > 0 and _kinds_only(lines[i - 1]) else i
    last, j = i, i + 1
    while j < len(lines) and j <= i + 12 and (not lines[j].strip() or _fragment(lines[j])):
        if lines[j].strip() and any(_kind_of(t) or is_year(t) for t in lines[j].split()):
            last = j
        j += 1
    text = " ".join(" ".join(lines[k].split()) for k in range(first, last + 1) if lines[k].strip())
    cols = parse_columns(text)
    positions: tuple[int, ...] = ()
    if "\t" in lines[i]:
        per = [(k, parse_columns(c)) for k, c in enumerate(lines[i].split("\t"))]
        if all(len(p) <= 1 for _, p in per) and any(p for _, p in per):
            positions = tuple(k for k, p in per if p)
            cols = tuple(p[0] for _, p in per if p)
    start = offs[first] + len(lines[first]) - len(lines[first].lstrip())
    end = offs[last] + len(lines[last].rstrip())
    return TableHeader(text, cols, start, end, bool(positions), positions), last + 1


def _ends_table(line: str) -> bool:
    s = line.strip()
    if s.lower().startswith("kommentar") or is_header_line(line):
        return True
    words = len(s.split())
    return is_prose_line(s) or (s.endswith(".") and words >= 6 and value_tokens(s.split()) == 0)


def _wrapped_label(lines: list[str], offs: list[int], j: int, label: str, start: int, floor: int) -> tuple[str, int]:
    """A label that starts in lower case goes on from the line before it when that line is a short
    fragment after the previous row ("Delvis Avgångsålder" / "pension* 64,7 …"): (label, start)."""
    if not label[:1].islower():
        return label, start
    k = j - 1
    while k >= 0 and not lines[k].strip():
        k -= 1
    prev = lines[k].strip() if k >= 0 else ""
    a = offs[k] + len(lines[k]) - len(lines[k].lstrip()) if k >= 0 else start
    if not prev or a < floor or len(prev.split()) > 6 or _NUM.search(prev) or prev.endswith("."):
        return label, start
    return f"{prev.rstrip('-')}{'' if prev.endswith('-') else ' '}{label}", a


def fragment_label(lines: list[str], offs: list[int], j: int, floor: int) -> tuple[str, int] | None:
    """The label of a row of values alone (a PDF puts a wrapped label above its values: "Antal
    invånare" / "som har mer än 10 km till" / "närmaste dagligvarubutik" / "" / "1 835 1 878 I.U."):
    up to five non-blank lines above it, after ``floor``, from the last sentence end on. (label, start)."""
    picked: list[int] = []
    k = j - 1
    while k >= 0 and len(picked) < 5 and offs[k] >= floor:
        if lines[k].strip():
            picked.insert(0, k)
        k -= 1
    text = ""
    for k in picked:
        piece = lines[k].strip()
        text = text[:-1] + piece if text.endswith("-") else f"{text} {piece}".strip()
    cut = max(text.rfind(". "), text.rfind(": "))
    label = text[cut + 2 :] if cut >= 0 else text
    if not picked or not re.search(r"[^\W\d_]", label):
        return None
    first = picked[0]
    start = offs[first] + len(lines[first]) - len(lines[first].lstrip())
    if cut >= 0:
        start = text_start(lines, offs, picked, label)
    return label.rstrip(". "), start


def text_start(lines: list[str], offs: list[int], picked: list[int], label: str) -> int:
    """Where the label's first words stand in the document (the line that holds them)."""
    head = label.split()[0]
    for k in reversed(picked):
        pos = lines[k].find(head)
        if pos >= 0:
            return offs[k] + pos
    return offs[picked[0]]


def starts_header(lines: list[str], i: int) -> bool:
    """Line ``i`` opens a header (rule 1): a header line, or a kind word alone whose wrapped
    fragments below it ("Bokslut" / "2019" / "Bokslut" / "2018") name two years or more."""
    if is_header_line(lines[i]) and not is_prose_line(lines[i]):
        return True
    if not (_fragment(lines[i]) and any(_kind_of(t) for t in lines[i].split()) and not YEAR_PATTERN.search(lines[i])):
        return False
    years = 0
    for k in range(i + 1, min(len(lines), i + 13)):
        if lines[k].strip() and not _fragment(lines[k]):
            break
        years += len(YEAR_PATTERN.findall(lines[k]))
    return years >= 2


def read_rows(lines: list[str], offs: list[int], header: TableHeader, j: int) -> list[TableRow]:
    """The rows under a header that ends before line ``j`` (rule 3)."""
    rows: list[TableRow] = []
    misses = 0
    while j < len(lines) and misses <= MAX_NON_ROWS:
        ln = lines[j]
        if ln.strip() and (_ends_table(ln) or (ln.startswith(" ") and not ln.startswith("  ") and ln[1:2].isupper()
                                               and parse_row(ln, header) is None)):
            break
        row = parse_row(ln, header) if ln.strip() else None
        floor = header.end if not rows else rows[-1].end
        if row is not None:
            a = offs[j] + len(ln) - len(ln.lstrip())
            if row[0]:
                label, a = _wrapped_label(lines, offs, j, row[0], a, floor)
            else:
                found = fragment_label(lines, offs, j, floor + 1)
                label, a = found if found else ("", a)
            if label:
                rows.append(TableRow(label, row[1], a, offs[j] + len(ln.rstrip()), row[2]))
                misses = 0
                j += 1
                continue
        if ln.strip():
            misses += 1
        j += 1
    return rows


def find_tables(text: str) -> list[Table]:
    """Every table of a text with a header and at least one row, in order (module docstring)."""
    lines = text.split("\n")
    offs = _offsets(lines)
    out: list[Table] = []
    i = 0
    while i < len(lines):
        if not starts_header(lines, i):
            i += 1
            continue
        header, j = read_header(lines, offs, i)
        rows = read_rows(lines, offs, header, j)
        if rows:
            out.append(Table(header, tuple(rows), header.start, rows[-1].end))
            i = bisect.bisect_right(offs, rows[-1].end)  # the line after the table's last row
        else:
            i += 1
    return out
