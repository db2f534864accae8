"""Question forms in Swedish and the kind of sentence each one asks for. Pure functions.

:func:`question_form` reads what a question asks:

* ``cause``: varför, vad beror … på, vad förklarar, orsak, anledning, förklaring;
* ``amount``: hur mycket / många / stor / hög / lång, vad kostade, or a measure word (kostnad,
  belopp, summa, antal, andel, utfall, timmar, procent);
* ``time``: när, vilket år / datum, vilken månad / dag;
* ``name``: vem, var ligger / låg / finns, or vilken / vilket / vilka with a noun of a place, a
  building or an organisation (område, stadsdel, ort, skola, boende, bolag, förvaltning, nämnd,
  leverantör …), compounds included ("vilket mobilbolag");
* ``yesno``: the question starts with a verb ("Kommer …?", "Blev …?", "Har …?");
* ``other``: anything else (which, what, keyword queries).

:func:`answers_form` says whether a sentence has the kind of answer the form asks for: a causal
phrase (beror [främst] på, på grund av, till följd av, förklaras av, påverkas av, tack vare …),
an amount (a table row, or a number with a unit: mnkr, kr, euro, procent, %, antal …), a time
(a date, a month, a season or "under/från/sedan" and a year), a name (a capitalised word
inside the sentence: Swedish writes common nouns in lower case, so "… etablerad i Skäggetorp"
or "från Telia till Telenor" name something), or a statement (prose, not a table row or a heading).
"""
from __future__ import annotations

import re

FORMS = ("cause", "amount", "time", "name", "yesno", "other")

_CAUSE_Q = re.compile(
    r"\b(varför|vad beror|vad berodde|vad förklarar|vad förklarade|orsak\w*|anledning\w*|förklaring\w*)\b", re.I)
_AMOUNT_Q = re.compile(
    r"\b(hur (mycket|många|stor|stort|stora|hög|högt|höga|lång|långa|länge)|vad kostade|vilken (andel|nivå|summa))\b",
    re.I)
_MEASURE_Q = re.compile(r"\b\w*(kostnad|kostade|kostar|belopp|summa|antal|andel|utfall|timmar|procent)\w*\b", re.I)
_TIME_Q = re.compile(r"^\W*när\b|\bnär (började|startade|öppnade|infördes|beslutade|blir|kommer|ska)\b|"
                     r"\bvilket (år|datum)\b|\bvilken (månad|dag)\b", re.I)
# nouns whose answer is a proper name: places, buildings and organisations; a compound ending in one
# of the longer ones counts ("mobilbolag", "demensboende"), the short ones only alone ("sort", "rapporter")
_NAMED_LONG = ("område|områden|stadsdel|stadsdelar|skola|skolor|boende|boenden|kyrka|kyrkor|bibliotek|sjukhus|"
               "bolag|bolaget|företag|företaget|förvaltning|förvaltningar|nämnd|nämnder|myndighet|myndigheter|"
               "leverantör|leverantörer|operatör|operatörer|organisation|organisationer")
_NAMED_SHORT = "ort|orter|plats|platser|kommun|kommuner|region|regioner|län|aktör|aktörer|partner"
_NAME_Q = re.compile(rf"^\W*vem\b|^\W*var (ligger|låg|finns|fanns|byggs|byggdes|öppnar|öppnade)\b|"
                     rf"\b(vilken|vilket|vilka) (\w*?({_NAMED_LONG})|{_NAMED_SHORT})\b", re.I)
_YESNO_Q = re.compile(
    r"^\W*(kommer|blev|blir|har|hade|är|var|finns|fanns|kan|kunde|ska|skulle|gick|går|fick|får|används|"
    r"ökade|minskade|nådde|uppnådde|infördes|genomfördes)\b", re.I)

_NUMBER = r"\d+(?:[ \u00a0]\d{3})*(?:[,.]\d+)?"
_AMOUNT_S = re.compile(
    rf"{_NUMBER}\s*(?:%|procent|procentenheter|mnkr|mkr|tkr|kr\b|kronor|sek\b|euro|eur\b|€|dollar|usd\b|miljon\w*|"
    r"miljard\w*|tusen|st\b|stycken|"
    r"timmar|dagar|platser|personer|årsarbetare|portioner|ärenden|\w+/dag)|(?:antal\w*|andel\w*)\D{0,40}\d", re.I)
_MONTHS = "januari|februari|mars|april|maj|juni|juli|augusti|september|oktober|november|december"
_TIME_S = re.compile(
    rf"\b(\d{{1,2}} ({_MONTHS})|({_MONTHS})|(våren|hösten|sommaren|vintern|årsskiftet) \d{{4}}|"
    r"\d{4}-\d{2}(-\d{2})?|(under|från|till|sedan|år|inför|efter) (19|20)\d\d)\b", re.I)
_CAUSE_S = re.compile(
    r"\b(beror\w*(?: \w+){0,3} på|berodde(?: \w+){0,3} på|påverka\w*(?: \w+){0,2} av|tack vare|härrör\w* från|"
    r"på grund av|pga\.?|p\.g\.a\.?|till följd av|kopplat till|kopplad till|förklaras|"
    r"förklarad|förklaring\w*|orsak\w*|anledning\w*|därför|eftersom|med anledning av|mot bakgrund av|"
    r"hänföras till|härledas till|grundar sig|en följd av|beroende på|bakgrund\w*)\b", re.I)
# a capitalised word (a name or an acronym) after a word or a comma, i.e. not a sentence's first word
_NAME_S = re.compile(r"(?<=[\w,;:)]) +[A-ZÅÄÖ][\w&-]+")


def names_in(sentence: str) -> list[str]:
    """The capitalised words inside a sentence (not its first word): names and acronyms."""
    return [m.strip() for m in _NAME_S.findall(sentence)]


def question_form(question: str) -> str:
    """The form of a question: one of :data:`FORMS`."""
    if _CAUSE_Q.search(question):
        return "cause"
    if _AMOUNT_Q.search(question) or _MEASURE_Q.search(question):
        return "amount"
    if _TIME_Q.search(question):
        return "time"
    if _NAME_Q.search(question):
        return "name"
    if _YESNO_Q.match(question):
        return "yesno"
    return "other"


def answers_form(form: str, kind: str, sentence: str) -> bool:
    """True when a sentence of this kind ("text", "bullet", "row", "heading") has the kind of
    answer the question form asks for (never for ``other``)."""
    if form == "cause":
        return bool(_CAUSE_S.search(sentence))
    if form == "amount":
        return kind == "row" or bool(_AMOUNT_S.search(sentence))
    if form == "time":
        return bool(_TIME_S.search(sentence))
    if form == "name":
        return bool(_NAME_S.search(sentence))
    if form == "yesno":
        return kind in ("text", "bullet")
    return False
