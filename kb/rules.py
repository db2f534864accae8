"""The search's ranking rules as pure functions over fused scores: BM25 coverage weighting, the
year rule and the folding of near-duplicate passages.

* **Coverage weighting** (:func:`coverage_weight`): when BM25's best passage matches less than
  ``min_coverage`` of the query's IDF mass (a paraphrase whose key words the reports do not use),
  BM25's fusion weight shrinks in proportion, so the dense ranking decides.
* **Year rule** (:func:`year_rule`; soft, never hides anything): a passage from a report about one
  of the years named in the question has its score multiplied by ``1 + boost``; a passage of another
  report that itself mentions one of the years by ``1 + boost / 2``.
* **Year quota** (:func:`year_quota`; a question naming several years): each named year that some
  candidate passage has evidence for (a report about that year, or a passage naming it) gets its
  best such passage into the top ``k``, in place of the lowest-ranked passage there that names no
  asked year (else the lowest-ranked one whose years other passages there also carry).
* **Promotion** (:func:`promote`): given passages are moved into the top ``k`` (for a question
  about a figure over the years, the passages holding the figure's table rows).
* **Near-duplicates** (:func:`fold_duplicates`): a passage whose text is nearly identical to a
  better-ranked one (share of shared 5-character shingles of the folded text) is folded into it.
"""
from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence

from .text import fold, years_in


def coverage_weight(weight: float, coverage: float, min_coverage: float) -> float:
    """BM25's fusion weight scaled by ``coverage / min_coverage`` (at most 1); 0 turns this off."""
    if min_coverage <= 0:
        return weight
    return weight * min(1.0, coverage / min_coverage)


def year_rule(
    scores: Mapping[str, float],
    years: Sequence[int],
    boost: float,
    year_of: Mapping[str, int | None],
    text_of: Mapping[str, str],
) -> dict[str, float]:
    """Scores with the year rule applied (``year_of``: the report year of each passage)."""
    year_strs = tuple(str(y) for y in years)
    out = {}
    for item, score in scores.items():
        if year_of[item] in years:
            score *= 1 + boost
        elif any(y in text_of[item] for y in year_strs):
            score *= 1 + boost / 2
        out[item] = score
    return out


def shingles(text: str, n: int = 5) -> frozenset[str]:
    """Character n-grams of the folded text (letters and digits only)."""
    s = fold(text)
    return frozenset(s[i : i + n] for i in range(0, max(1, len(s) - n + 1)))


def near_duplicate(a: frozenset[str], b: frozenset[str], threshold: float) -> bool:
    """True when the smaller shingle set shares at least ``threshold`` of itself with the other."""
    if not a or not b:
        return False
    return len(a & b) / min(len(a), len(b)) >= threshold


def fold_duplicates(
    ordered: Sequence[tuple[str, float]],
    k: int,
    shingles_of: Callable[[str], frozenset[str]],
    threshold: float,
) -> list[tuple[str, float, list[str]]]:
    """The first k items of ``ordered`` that are not near-duplicates of a better one, each with
    the items folded into it (in order)."""
    kept: list[tuple[str, float, list[str]]] = []
    for item, score in ordered:
        if len(kept) >= k:
            break
        sh = shingles_of(item)
        dup_of = next((i for i, (other, _, _) in enumerate(kept)
                       if near_duplicate(sh, shingles_of(other), threshold)), None)
        if dup_of is not None:
            kept[dup_of][2].append(item)
        else:
            kept.append((item, score, []))
    return kept


def evidence_years(report_year: int | None, text: str) -> set[int]:
    """The years a passage is evidence for: its report's year and the years it names."""
    return set(years_in(text)) | ({report_year} if report_year is not None else set())


def year_quota(
    ordered: Sequence[tuple[str, float]], years: Sequence[int], years_of: Callable[[str], set[int]], k: int
) -> list[tuple[str, float]]:
    """``ordered`` (best first) with the best passage of every named year that has evidence moved
    into the first ``k`` (see the module docstring); scores are kept, only places change: the
    passage it replaces goes right after the first ``k``."""
    items = list(ordered)
    if len(years) < 2 or len(items) <= k:
        return items
    for y in years:
        top = items[:k]
        if any(y in years_of(i) for i, _ in top):
            continue
        best = next((n for n in range(k, len(items)) if y in years_of(items[n][0])), None)
        if best is None:
            continue
        carriers = {x: sum(1 for i, _ in top if x in years_of(i)) for x in years}
        order = range(k - 1, -1, -1)
        out = next((n for n in order if not years_of(top[n][0]) & set(years)), None)
        if out is None:
            out = next((n for n in order
                        if not any(carriers[x] == 1 and x in years_of(top[n][0]) for x in years)), None)
        if out is None:
            continue
        rest = items[k:best] + items[best + 1 :]
        items = top[:out] + top[out + 1 :] + [items[best], top[out]] + rest
    return items


def promote(ordered: Sequence[tuple[str, float]], wanted: Sequence[str], k: int) -> list[tuple[str, float]]:
    """``ordered`` with the ``wanted`` items (at most ``k``) inside the first ``k``, replacing the
    lowest-ranked others there; the first ``k`` keep their relative order, scores are kept."""
    want = set(list(dict.fromkeys(w for w in wanted if any(w == i for i, _ in ordered)))[:k])
    if not want:
        return list(ordered)
    room = k - len(want)
    keep = [it for it in ordered[:k] if it[0] not in want][:room]
    top_ids = {i for i, _ in keep} | want
    top = [it for it in ordered if it[0] in top_ids]
    return top + [it for it in ordered if it[0] not in top_ids]
