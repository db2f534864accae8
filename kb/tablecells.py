"""The cells of a table row as written in a converted report: which tokens at the end of a line are
values, how digit groups join into numbers ("206 583" is one value when the count of columns
forces it), Swedish numbers and units. Pure functions; :mod:`kb.tables` builds on them.
"""
from __future__ import annotations

import re
from itertools import combinations

UNITS = ("mnkr", "tkr", "kr", "%", "st", "år", "timmar")
VALUE = re.compile(r"^(?P<cmp>[≤≥<>])?(?P<sign>[-−–+])?(?P<num>\d+(?:[.,]\d+)?)(?P<unit>%)?(?P<star>\*\)?)?$")
PLACEHOLDERS = frozenset({"-", "–", "−", "i.u.", "i.u", "iu", "*)", "*", "x", ".."})
UNIT_TOKENS = frozenset({"%", "mnkr", "tkr", "kr"})
DIRECTIONS = frozenset({"minska", "öka", "bibehålla", "oförändrat", "behålla"})
_UNIT_WORD = re.compile(r"\b(mnkr|tkr|timmar|kwh)\b")


def value_tokens(tokens: list[str]) -> int:
    """How many tokens at the end of a row are values (rule 3); the rest is the label."""
    n = len(tokens)
    i = n
    if i and tokens[i - 1].lower() in DIRECTIONS:
        i -= 1
    while i > 0:
        t = tokens[i - 1]
        if VALUE.match(t) or t.lower() in PLACEHOLDERS or t.lower() in UNIT_TOKENS:
            i -= 1
        else:
            break
    while i < n and tokens[i].lower() in UNIT_TOKENS:  # a unit cannot open the values
        i += 1
    return n - i


def value_items(tokens: list[str]) -> list[str]:
    """Value tokens with unit words joined to the number before them ("8,0 %" → one item)."""
    out: list[str] = []
    for t in tokens:
        if t.lower() in UNIT_TOKENS and out and VALUE.match(out[-1].split()[0]):
            out[-1] = f"{out[-1]} {t}"
        else:
            out.append(t)
    return out


def is_group(item: str) -> bool:
    return len(item) == 3 and item.isdigit()


def can_lead(item: str) -> bool:
    return item.isdigit() and 1 <= len(item) <= 3 and item != "0" or bool(re.fullmatch(r"[-−–]\d{1,3}", item))


def groupings(items: list[str], n: int) -> list[list[str]]:
    """Every way to read ``items`` as exactly ``n`` values, where a value is one item or a number
    of one to three digits followed by three-digit groups ("206 583")."""
    m = len(items)
    if n > m or n < 1:
        return []
    joinable = [i for i in range(1, m) if is_group(items[i]) and (can_lead(items[i - 1]) or is_group(items[i - 1]))]
    out = []
    for joins in combinations(joinable, m - n):
        js = set(joins)
        vals: list[list[str]] = []
        for i, it in enumerate(items):
            if i in js:
                vals[-1].append(it)
            else:
                vals.append([it])
        if all(can_lead(v[0]) for v in vals if len(v) > 1):
            out.append([" ".join(v) for v in vals])
        if len(out) > 50:
            break
    return out


def same_size(values: list[str]) -> bool:
    sizes = {len(v.split()) for v in values if re.fullmatch(r"[-−–]?\d+(?: \d{3})*", v)}
    return len(sizes) <= 1


def unique_grouping(items: list[str], n: int) -> list[str] | None:
    """The one reading of ``items`` as ``n`` values, by rule 4, or None."""
    if len(items) > 24:
        return None
    found = groupings(items, n)
    if len(found) > 1:
        found = [g for g in found if same_size(g)]
    return found[0] if len(found) == 1 else None


def parse_number(text: str) -> float | None:
    """A written value as a number ("8,0 %" → 8.0, "-25 157" → -25157, "≤6,0" → 6.0); None for a placeholder."""
    s = text.replace("%", "").replace("*)", "").replace("*", "").strip()
    for u in ("mnkr", "tkr", "kr"):
        s = s.replace(u, "").strip()
    s = s.lstrip("≤≥<>")
    m = re.fullmatch(r"([-−–+])?(\d{1,3}(?: \d{3})+|\d+)(?:[.,](\d+))?", s)
    if not m:
        return None
    digits = m.group(2).replace(" ", "")
    value = float(f"{digits}.{m.group(3)}" if m.group(3) else digits)
    return -value if m.group(1) in ("-", "−", "–") else value


def unit_of(value: str, label: str, header: str) -> str | None:
    """The unit of a value: written with it, else in the row's label, else in the header."""
    for src in (value, label, header):
        if "%" in src:
            return "%"
        m = _UNIT_WORD.search(src.lower())
        if m:
            return m.group(1)
    return None
