"""Text rules shared by every stage: Unicode form, folding, tokens, years, sentence ends,
headings and numeric (table) lines.

Each rule lives here once; ingest, chunk, analyze, search, answer, evaluate and the UI import it.
Everything is a pure function of its input.

Conventions other stages rely on:

* **Heading mark.** A heading line is marked by a leading space (:data:`HEADING_MARK`), as the
  bundled text extractions do; the PDF reader marks heading-style lines the same way
  (:func:`mark_heading`) and :func:`is_heading` reads the mark.
* **Years** are four-digit numbers from :data:`YEAR_MIN` to :data:`YEAR_MAX` that are not part of
  a longer number or a decimal ("2019,5" is not a year).
"""
from __future__ import annotations

import re
import unicodedata

YEAR_MIN, YEAR_MAX = 1990, 2049
YEAR_PATTERN = re.compile(r"(?<!\d)(?<!\d[,.])(199\d|20[0-4]\d)(?!\d|[,.]\d)")
TOKEN_PATTERN = re.compile(r"\d+(?:[.,]\d+)*|[^\W\d_]+")
HEADING_MARK = " "

_FOLD = re.compile(r"[^0-9a-zåäöéü]+")
_HYPHEN_BREAK = re.compile(r"([^\W\d_]+)-[ \t]*\r?\n[ \t]*(?=[a-zåäöéü])")
# Words after which a trailing hyphen is a real elision ("Kultur- och fritid"), not a line break.
_KEEP_HYPHEN_BEFORE = ("och ", "eller ", "samt ", "till ", "som ")


def nfc(text: str) -> str:
    """NFC-normalise text (decomposed å/ä/ö become single code points)."""
    return unicodedata.normalize("NFC", text)


def fold(text: str) -> str:
    """Lowercase letters and digits only (the evidence rule's normalisation; also used to compare
    passages and sentences for near-identity)."""
    return _FOLD.sub("", text.lower())


def dehyphenate(text: str) -> str:
    """Join words split by a line-break hyphen ("verksam-\\nheten" → "verksamheten").

    A hyphen followed by a conjunction ("Kultur-\\noch fritid") is kept: that is an elided compound.
    After an acronym ("LSS-\\nverksamheten") the hyphen is real and only the line break goes.
    """

    def repl(m: re.Match) -> str:
        join = hyphen_join(m.group(1), text[m.end() : m.end() + 6])
        return m.group(0) if join == "- " else m.group(1) + join

    return _HYPHEN_BREAK.sub(repl, text)


def hyphen_join(word: str, following: str) -> str:
    """How ``word``, ending a line with a hyphen, joins the next line that starts with ``following``
    (in lower case): ``""`` drops the line-break hyphen ("verksam-" "heten"), ``"-"`` keeps a real one
    after an acronym ("LSS-" "verksamheten"), ``"- "`` keeps an elided compound before a conjunction
    ("Kultur-" "och fritid")."""
    if following.lower().startswith(_KEEP_HYPHEN_BEFORE):
        return "- "
    if len(word) >= 2 and word.isupper():
        return "-"
    return ""


def line_starts(lines: list[str]) -> list[int]:
    """Offset of each line in the text the lines were split from (``text.split("\\n")``)."""
    offsets, pos = [], 0
    for ln in lines:
        offsets.append(pos)
        pos += len(ln) + 1
    return offsets


def tokenize(text: str) -> list[str]:
    """Lowercased word and number tokens; a line-break hyphen joins its halves first.

    Hyphenated in-line compounds split on the hyphen ("LSS-verksamheten" → lss, verksamheten).
    Numbers keep decimal commas ("92,5") and lose signs ("-46" → "46").
    """
    return TOKEN_PATTERN.findall(dehyphenate(nfc(text)).lower())


# -- years ----------------------------------------------------------------------------------


def years_in(text: str) -> list[int]:
    """Every year named in a text, in order, repeats included."""
    return [int(y) for y in YEAR_PATTERN.findall(text)]


def query_years(text: str) -> tuple[int, ...]:
    """Years named in a question, in order of appearance, without repeats.

    Years inside ranges ("2024-2025") count; numbers with decimals or longer digit runs do not.
    """
    return tuple(dict.fromkeys(years_in(text)))


def is_year(token: str) -> bool:
    """True when a whole token is a year."""
    return len(token) == 4 and token.isdigit() and YEAR_MIN <= int(token) <= YEAR_MAX


# -- sentences ------------------------------------------------------------------------------

ABBREVIATIONS = frozenset(
    """bl.a t.ex s.k m.m dvs d.v.s t.o.m fr.o.m o.s.v osv m.fl resp ca kap nr st jfr enl inkl exkl
    p.g.a pga f.d f.n o.d ev etc""".split()
)
# a sentence ends at . ! ? (optionally followed by a closing quote or bracket), then whitespace,
# then a capital letter, a digit or an opening quote, bracket, dash or bullet
_SENT_END = re.compile(r"(?<=[.!?])[\"”’)]?\s+(?=[\"”“(–•-]?[A-ZÅÄÖÉÜ0-9])")
_LAST_WORD = re.compile(r"(\S+)\.$")


def ends_with_abbreviation(text: str) -> bool:
    """True when ``text`` ends with a common Swedish abbreviation ("bl.a.", "t.ex.")."""
    m = _LAST_WORD.search(text)
    return m is not None and m.group(1).lower().lstrip("(\"“") in ABBREVIATIONS


def sentence_breaks(text: str) -> list[tuple[int, int]]:
    """Where sentences end in ``text``: (end of a sentence, start of the next) for each break.

    A break needs sentence punctuation followed by whitespace and a capital letter or digit; a
    full stop after a common abbreviation ("bl.a. Till följd av") is not a break.
    """
    out = []
    for m in _SENT_END.finditer(text):
        end = m.start() + (1 if text[m.start() : m.start() + 1] in "\"”’)" else 0)
        if ends_with_abbreviation(text[max(0, end - 12) : end].rstrip("\"”’)")):
            continue
        out.append((end, m.end()))
    return out


# -- headings and tables --------------------------------------------------------------------

_NUM = re.compile(r"-?\d+(?:[ ,.]\d+)*")
_SINGLE_NUM = re.compile(r"\d+(?:[,.]\d+)?")
_WORD = re.compile(r"[^\W\d_]+")
_NUMBERED_HEADING = re.compile(r"^\d+(\.\d+)*\.?\s+[A-ZÅÄÖ]")


def is_numeric_line(line: str) -> bool:
    """A line dominated by numbers (a table row)."""
    s = line.strip()
    if not s:
        return False
    nums = _NUM.findall(s)
    digits = sum(len(n) for n in nums)
    words = _WORD.findall(s)
    return (digits >= 2 and digits * 2 >= sum(len(w) for w in words)) or (len(nums) >= 3)


def is_prose_line(line: str) -> bool:
    """Running text that holds numbers, not a table row: no tab (a cell separator), at least 8
    words and three words or more per number ("Under 2021 kommer förvaltningen att …")."""
    s = line.strip()
    if "\t" in s:
        return False
    words, nums = len(_WORD.findall(s)), len(_NUM.findall(s))
    return words >= 8 and words >= 3 * nums


def mark_heading(line: str) -> str:
    """A heading line with the heading mark (see the module docstring)."""
    return HEADING_MARK + line.strip()


_NAME_WORD = r"[A-ZÅÄÖÉÜ][a-zåäöéüß]+(?:-[A-ZÅÄÖÉÜ][a-zåäöéüß]+)?"
_PERSON = re.compile(rf"^{_NAME_WORD}(?:\s+{_NAME_WORD}){{1,2}}$")
# a role written under or beside a signature ("Förvaltningschef", "Kommunstyrelsens ordförande")
_ROLE = re.compile(r"(chef|ordförande|direktör|sekreterare|handläggare|controller|revisor|ekonom|strateg|"
                   r"samordnare|ansvarig|ledamot)\b", re.IGNORECASE)
_SIGNATURE_FIELD = re.compile(r"^(Handläggare|Organisation|Kontaktperson|Föredragande|Ansvarig|Beslutsfattare|"
                              r"Underskrift|Datum)\s*:", re.IGNORECASE)
_TOC_ENTRY = re.compile(r"\.{4,}\s*\d*$")  # a table-of-contents entry: "Ekonomi.....\t9"
# words that make up the column and status labels of tables ("Uppnått", "Utgifter Inkomster Netto")
TABLE_LABEL_WORDS = frozenset({"uppnått", "uppnås", "delvis", "ja", "nej", "ej", "män", "kvinnor", "totalt",
                               "genomfört", "pågår", "påbörjat", "utgifter", "inkomster", "netto"})


def is_name_or_label(line: str, prev_line: str | None, next_line: str | None) -> bool:
    """A line that looks like a heading but names a person or labels a table's cells, so it must
    not become a section name: a signature ("Anita Lhådö" above or below a role such as
    "Förvaltningschef"; "Handläggare: Peter Alexanderson") or only table label words ("Uppnått",
    "Män", "Utgifter Inkomster Netto"), or a table-of-contents entry ("Ekonomi..... 9"). The one
    rule of kb for this (the chunker and the sentence splitter use it through :func:`is_heading`)."""
    s = " ".join(line.split())
    if _SIGNATURE_FIELD.match(s) or _TOC_ENTRY.search(s):
        return True
    words = [w.strip(":").lower() for w in s.split()]
    if words and all(w in TABLE_LABEL_WORDS for w in words):
        return True
    if not _PERSON.match(s):
        return False
    near = [x.strip() for x in (prev_line, next_line) if x and x.strip()]
    return any(len(x.split()) <= 4 and _ROLE.search(x) for x in near)


def is_heading(line: str, prev_blank: bool, next_line: str | None, prev_line: str | None = None) -> bool:
    """A heading: a short line (≤ 80 characters, ≤ 12 words) that starts with a capital letter
    (or a section number), does not end a sentence or a hyphenated word, holds at most one
    number, is no signature or table label (:func:`is_name_or_label`), and either carries the
    heading mark or follows a blank line and precedes text."""
    s = line.strip()
    if not (2 < len(s) <= 80) or len(s.split()) > 12:
        return False
    if not (s[0].isupper() or s[0].isdigit()):
        return False
    if s[0].isdigit() and not _NUMBERED_HEADING.match(s):
        return False
    if s[-1] in ".,;-–" or s.endswith(("och", "samt", "eller")):
        return False
    if len(_SINGLE_NUM.findall(s)) > 1 or s.startswith(("•", "●", "-", "–", "*")):
        return False
    if is_name_or_label(s, prev_line, next_line):
        return False
    marked = line.startswith(HEADING_MARK)
    if next_line is None or not next_line.strip():
        return marked and prev_blank
    nxt = next_line.strip()
    return marked or (prev_blank and nxt[:1].isupper() and len(nxt) > len(s))
