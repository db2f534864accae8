"""Swedish text analysis for BM25: tokenise, drop stop words, stem, conflate inflections,
split compounds and expand public-sector acronyms.

Everything here is a pure function of its inputs. The only state is an :class:`Analyzer`
holding its settings, the lexicon (the corpus vocabulary, saved with the index so that
passages and queries are analysed the same way) and memo tables.

Rules, in order, for one surface word ``w`` (lowercased, NFC):

1. Stop words (Snowball's Swedish list plus question words) are dropped; numbers and
   acronyms are kept whatever their length. In a query, a degree word right after "hur"
   ("hur hög", "hur länge") is dropped too.
2. ``stem(w)``: Snowball Swedish, applied until it stops changing, then a definite-form rule:
   a trailing ``-et``/``-t``/``-n`` whose removal yields a word of the lexicon (or ``-et`` on a
   long word when no lexicon is known) is removed and the rest stemmed again. This conflates
   underskott/underskottet, resultat/resultatet, prognos/prognosen, assistans/assistansen,
   sjukfrånvaro/sjukfrånvaron that plain Snowball keeps apart.
3. Compounds: a word of at least ``min_compound_len`` letters is split into two known words of
   the lexicon (allowing the linking ``s``), recursively on the right part; the parts are added
   as extra tokens next to the whole word (e.g. hemtjänstverksamheten → hemtjänst, verksamheten).
4. Query side only: acronyms and their full forms from the glossary expand each other, with a
   lower weight than the words the user typed.
"""
from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass
from importlib import resources

import Stemmer

from .text import tokenize

SNOWBALL_STOPWORDS = frozenset(
    """alla allt att av blev bli blir blivit de dem den denna deras dess dessa det detta dig din
    dina ditt du där då efter ej eller en er era ert ett från för ha hade han hans har henne hennes
    hon honom hur här i icke ingen inom inte jag ju kan kunde man med mellan men mig min mina mitt
    mot mycket ni nu när någon något några och om oss på samma sedan sig sin sina sitta själv
    skulle som så sådan sådana sådant till under upp ut utan vad var vara varför varit varje vars
    vart vem vi vid vilka vilkas vilken vilket vår våra vårt än är åt över""".split()
)
# Question and filler words that carry no topic ("hur mycket", "vilka åtgärder finns").
QUESTION_WORDS = frozenset(
    """varför hur vad vilka vilken vilket vem vems när var många mycket finns fanns gick går
    fick får blev beror berodde förklarar förklaras enligt""".split()
)
# Degree words that only shape a question after "hur" ("hur hög var sjukfrånvaron", "hur stor
# del", "hur länge"): the answer states a figure, it rarely repeats the adjective. Elsewhere in a
# query ("hög sjukfrånvaro") they are kept.
DEGREE_WORDS = frozenset(
    """hög högt höga stor stort stora liten litet lilla små lång långt långa länge ofta låg lågt
    låga dyr dyrt dyra""".split()
)


@dataclass(frozen=True)
class AnalyzerConfig:
    """Settings that shape the BM25 index; recorded in the index manifest."""

    stem: bool = True
    conflate_definite: bool = True
    decompound: bool = True
    min_compound_len: int = 9
    min_part_len: int = 4
    stopwords: bool = True
    question_words: bool = True
    glossary: bool = True
    compound_weight: float = 0.5
    expansion_weight: float = 0.3

    def to_json(self) -> dict:
        return asdict(self)

    @classmethod
    def from_json(cls, d: Mapping) -> AnalyzerConfig:
        return cls(**{k: v for k, v in d.items() if k in cls.__dataclass_fields__})


def load_glossary(text: str | None = None) -> dict[str, tuple[str, ...]]:
    """Parse the acronym glossary: ``ACRONYM<TAB>full form[;other form]`` per line, ``#`` comments."""
    if text is None:
        text = resources.files("kb.data").joinpath("glossary.tsv").read_text(encoding="utf-8")
    out: dict[str, tuple[str, ...]] = {}
    for line in text.splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        acro, _, forms = line.partition("\t")
        out[acro.strip().lower()] = tuple(f.strip() for f in forms.split(";") if f.strip())
    return out


class Analyzer:
    """Holds analysis settings, the lexicon and memo tables; all methods are deterministic."""

    def __init__(
        self,
        config: AnalyzerConfig = AnalyzerConfig(),
        lexicon: Mapping[str, int] | None = None,
        glossary: Mapping[str, tuple[str, ...]] | None = None,
    ) -> None:
        self.config = config
        self.lexicon: dict[str, int] = dict(lexicon or {})
        self._stemmer = Stemmer.Stemmer("swedish")
        self.glossary = dict(load_glossary() if glossary is None else glossary)
        self._stop: frozenset[str] = frozenset()
        if config.stopwords:
            self._stop |= SNOWBALL_STOPWORDS
        if config.question_words:
            self._stop |= QUESTION_WORDS
        self._term_memo: dict[str, str] = {}
        self._split_memo: dict[str, tuple[str, ...]] = {}
        # full forms as stem sequences, for matching them in queries
        self._full_forms: list[tuple[tuple[str, ...], str]] = []
        for acro, forms in self.glossary.items():
            for form in forms:
                stems = tuple(self.term(t) for t in tokenize(form) if t not in self._stop)
                if stems:
                    self._full_forms.append((stems, acro))

    # -- words -------------------------------------------------------------------------
    def is_stopword(self, word: str) -> bool:
        return word in self._stop

    def term(self, word: str) -> str:
        """The index term of one lowercased surface word (stemmed and conflated)."""
        memo = self._term_memo.get(word)
        if memo is not None:
            return memo
        if not self.config.stem or word[0].isdigit():
            out = word
        else:
            base = word
            if self.config.conflate_definite:
                base = strip_definite(word, self.lexicon)
            out = snowball_fixpoint(self._stemmer, base)
        self._term_memo[word] = out
        return out

    def split_compound(self, word: str) -> tuple[str, ...]:
        """Parts of a compound word found in the lexicon, or () when it is not split.

        The best split maximises the geometric mean of the parts' corpus frequencies and must
        beat the whole word's own frequency (Koehn & Knight, 2003). A linking ``s`` is allowed.
        """
        cfg = self.config
        if not cfg.decompound or len(word) < cfg.min_compound_len or not self.lexicon:
            return ()
        memo = self._split_memo.get(word)
        if memo is not None:
            return memo
        lex = self.lexicon
        best: tuple[float, tuple[str, ...]] = (float(lex.get(word, 0)), ())
        m = cfg.min_part_len
        for i in range(m, len(word) - m + 1):
            head, tail = word[:i], word[i:]
            heads = [head]
            if head.endswith("s") and len(head) > m:
                heads.append(head[:-1])
            for h in heads:
                fh = lex.get(h, 0)
                if fh <= 0 or h in self._stop:
                    continue
                ft = lex.get(tail, 0)
                if ft > 0:
                    score = (fh * ft) ** 0.5
                    if score > best[0]:
                        best = (score, (h, tail))
                sub = self.split_compound(tail)
                if sub:
                    fs = min(lex.get(p, 0) for p in sub)
                    score = (fh * fs) ** 0.5
                    if score > best[0]:
                        best = (score, (h, *sub))
        self._split_memo[word] = best[1]
        return best[1]

    # -- texts -------------------------------------------------------------------------
    def passage_terms(self, text: str) -> list[str]:
        """Index terms of a passage: each kept word's term, plus the terms of its compound parts."""
        out: list[str] = []
        for w in tokenize(text):
            if w in self._stop:
                continue
            out.append(self.term(w))
            for part in self.split_compound(w):
                out.append(self.term(part))
        return out

    def query_words(self, text: str) -> list[str]:
        """The words of a query that carry its topic: stop words and question phrasing removed."""
        tokens = tokenize(text)
        out = []
        for i, w in enumerate(tokens):
            if w in self._stop:
                continue
            if self.config.question_words and i and tokens[i - 1] == "hur" and w in DEGREE_WORDS:
                continue
            out.append(w)
        return out

    def query_terms(self, text: str) -> list[tuple[str, float]]:
        """Weighted query terms: typed words 1.0, compound parts and glossary expansions lower.

        A term appearing several ways keeps its highest weight.
        """
        cfg = self.config
        weights: dict[str, float] = {}

        def add(term: str, w: float) -> None:
            if w > weights.get(term, 0.0):
                weights[term] = w

        words = self.query_words(text)
        stems = [self.term(w) for w in words]
        for w, s in zip(words, stems):
            add(s, 1.0)
            for part in self.split_compound(w):
                add(self.term(part), cfg.compound_weight)
        if cfg.glossary:
            for exp in self.expansions(words, stems):
                for t in tokenize(exp):
                    if t not in self._stop:
                        add(self.term(t), cfg.expansion_weight)
        return list(weights.items())

    def expansions(self, words: list[str], stems: list[str]) -> list[str]:
        """Glossary expansions for a query: full forms of acronyms it names, acronyms of full forms."""
        out: list[str] = []
        for w in words:
            out.extend(self.glossary.get(w, ()))
        for form_stems, acro in self._full_forms:
            n = len(form_stems)
            if any(tuple(stems[i : i + n]) == form_stems for i in range(len(stems) - n + 1)):
                out.append(acro)
        return list(dict.fromkeys(out))


def build_lexicon(texts: Iterable[str]) -> dict[str, int]:
    """Surface-word frequencies over a corpus (lowercased, alphabetic words only)."""
    counts: Counter[str] = Counter()
    for text in texts:
        counts.update(t for t in tokenize(text) if not t[0].isdigit())
    return dict(counts)


def strip_definite(word: str, lexicon: Mapping[str, int]) -> str:
    """The word without a definite ending (-et, -en, -t, -n) when the bare form is in the lexicon
    (or, with no lexicon, without -et on a long word); else the word itself."""
    for suffix in ("et", "en", "t", "n"):
        if len(word) - len(suffix) < 4 or not word.endswith(suffix):
            continue
        bare = word[: -len(suffix)]
        if lexicon:
            if lexicon.get(bare, 0) > 0:
                return bare
        elif suffix == "et" and len(bare) >= 5:
            return bare
    return word


def snowball_fixpoint(stemmer, word: str) -> str:
    """Snowball Swedish applied until the word stops changing (at most four times)."""
    s = word
    for _ in range(4):
        nxt = stemmer.stemWord(s)
        if nxt == s:
            break
        s = nxt
    return s
