"""The fast tier: fold, match terms and patterns, extract links, evaluate rules.

Pure and stateless: `analyze` turns a text into features (which sets it touches, where), and
`rules` says which rules fire for a target kind given the features of its context. One
Aho-Corasick pass over the glued view finds every term of every language at once; one combined
regular expression near the numbers of the plain view finds every pattern; ages have a small
dedicated reader.
"""

from __future__ import annotations

import contextlib
import functools
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import ahocorasick_rs

from veilleur.decide.policy import combine
from veilleur.detect.text.fold import Folded, collapse, fold, glued, letter_pattern, tokens
from veilleur.detect.text.held import LONG_RUN, HeldTerms
from veilleur.detect.text.links import Link, LinkExtractor
from veilleur.detect.text.packs import (
    LINK_FEATURES,
    QUOTED,
    PolicyPack,
    Rule,
    Term,
    load_packs,
)
from veilleur.taxonomy import Category, TargetKind

_DIGIT = re.compile(r"[0-9]")
_NUMBER = re.compile(r"[0-9]+")
# A number inside a word is leet, not an age ("un8an" is "unban").
_SMALL_NUMBER = re.compile(r"(?<![a-z0-9.,/:])[0-9]{1,2}(?![0-9]|[.,/:][0-9])")
_SPELLED = r"(?:[^a-z0-9\s]\s?|\s)?"
"""Between the letters of a phrase word: nothing, or what spells it out ("a n s", "a.n.s")."""
_WINDOW = 24
"""Characters around a number in which patterns are tried (longest context: "moins de")."""

# A minor refused ("no minors", "18+ only") and an age that is a size (children's goods).
_MINOR = "minor"
_REFUSAL = "age_restriction"
_REFUSING = "refusing"
"""A first-person refusal to make or take something ("je ne prends aucune commande", "i will
not draw", "no acepto"): a minor word it is about is turned away."""
_REFUSED_GAP = 6
"""At most so many words between a refusal and the minor word it refuses, each of them a
filler of `_OBJECT_WORDS` or a sexual word: "i won't draw nsfw of characters who are
canonically minors" refuses minors, "i don't do refunds, nsfw minors" does not. The words
that carry a refusal on to its next object ("ni", "nor": "je ne fais pas de NSFW ni de
fanart de persos mineurs") are not counted."""
_CARRIED = frozenset({"ni", "nor"})
_OBJECT_WORDS = frozenset((
    "de", "d", "du", "des", "la", "le", "les", "l", "un", "une", "aux", "au", "to", "aucun",
    "aucune", "of",
    "with", "avec", "con", "del", "el", "los", "las", "una", "a", "an", "the", "any",
    "anything", "kind", "ningun", "ninguna", "nada", "rien", "pour", "for", "para",
    "involving", "impliquant", "featuring", "commande", "commandes", "commission",
    "commissions", "comm", "comms", "encargo", "encargos", "request", "requests", "demande",
    "demandes", "pedido", "pedidos", "content", "contenu", "contenus", "contenido",
    "contenidos", "art", "dessin", "dessins", "drawing", "drawings", "dibujo", "dibujos",
    "fanart", "fic", "fics", "fanfic", "fanfics", "story", "stories", "histoire", "histoires",
    "historia", "historias", "personnage", "personnages", "perso", "persos", "character",
    "characters", "chars", "oc", "ocs", "personaje", "personajes", "who", "are", "is", "qui",
    "sont", "que", "sean", "son", "canonically", "canon", "canoniquement", "aged", "coded",
    "looking", "like", "appear", "appearing", "real", "ni", "en", "in", "on", "sur"))
_SEXUAL = "sexual"
_ADDRESSED = re.compile(r"(?<!\bif )(?<!\bsi )\b(?:you|youre|ur|u|yall|(?<!n')(?<!n )t|tu|te|toi|"
                        r"vous|eres|estas|vas|tienes|sos|vos)\b")
"""Second-person words ("t" of "t'es", not of "don't"): a minor word beside one speaks to a
child and is never turned away, unless it is a condition ("if you're under 18", "si eres
menor")."""
_GAP_BREAK = re.compile(r"[.!?;:,|/()\[\]\n\u2014\u2013\u2026-]")
"""Between a refusal and what it refuses, in the original text: no sentence or clause mark
("not taking requests. nsfw of minors ..." refuses the requests, not the minors)."""
_PRICE = re.compile(r"[$\u20ac\u00a3]\s?[0-9]|[0-9]\s?(?:[$\u20ac\u00a3]|k\b)")
_TURNED_ROUND = (r"excluded?|exclue?s?|limits?|limites?|filters?|filtres?|filtros?|first|"
                 r"welcome|bienvenue?s?|bienvenid[oa]s?|allowed|ok|autorises?|permitid[oa]s?")
"""After a refusal's words, what turns it round: "no minors excluded", "no underage limit"."""
_WELCOMED = re.compile(r"[^a-z0-9]{0,3}(?:(?:pics?|photos?|fotos?|vids?|videos?|nudes?|pack|"
                       r"content|contenu|contenido)[^a-z0-9]{0,3})?(?:here|ici|aqui|aca|"
                       rf"{_TURNED_ROUND}|accepted|acceptee?s?|aceptad[oa]s?|open|"
                       r"yes|oui|dispos?|disponibles?|available|fine|only|uniquement|"
                       r"solamente|unicamente|exclusively|instead|aussi|too|also|tambien)\b")
"""After a minor word: what turns a refusal round ("... minors accepted", "... minors only",
"... mineurs dispo", "... teen pics here")."""
_GOODS = "child_goods"
_SCHOOL_YEAR = "school_year"
_PHOTO = "photo_word"
_LISTING = "listing_photos"
"""A marketplace listing's own pictures ("photos dans l'annonce"): of the goods sold."""
_STAFF = "school_staff"
_STAFF_REACH = (20, 1)
"""How far before and after a school year its teachers are looked for: a few words before
("la prof principale des 3e"), right after ("the 8th grade teacher", "class moms")."""
_PERSON = "relation"
_AFTER_PERSON = re.compile(r"[^a-z0-9]{0,3}(?:de[^a-z0-9]{1,2})?")
"""Between a person named and their age: "ma cousine, 14", "(13)", "mi prima de 15"."""
_SET_APART = re.compile(r"\s*(?:$|[,;!?)\]]|\.(?![0-9]))")
"""After an age set apart: a comma, a closing bracket or an end of sentence ("(13)", "14,",
"15?"); not a height, a score, a fraction or hours ("6'2", "3-0", "1/2", "9 - 5")."""
_SPANNED = frozenset({_MINOR, _REFUSAL, _REFUSING, "trade", "payment", _STAFF, _PERSON,
                      _SCHOOL_YEAR, _PHOTO, _LISTING, _GOODS, _SEXUAL})
_CLAUSE = re.compile(r"[^a-z0-9\s']|\n")
"""Between a school year and its teachers: no punctuation, line break or symbol."""
_PICTURED = frozenset({"photo_word", "sexual", "dm_offer", "image_request", "intimate_image"})
_REVERSED = re.compile(rf"[^a-z0-9]{{0,3}}(?:{_TURNED_ROUND})\b")
_OFFERS = frozenset({"trade", "payment", "dm_offer", "paid_images", "image_request",
                     "link_hint", "contact", *LINK_FEATURES})
"""Words that offer or ask: said outside the quotes, they are the writer's own offer."""
_ASKS = _OFFERS | frozenset({"swap", "show_offer", "post_call", "contest", "tribute"})
"""What makes a text an offer or a request, so that no refusal in it turns a minor away."""
_REPORTING = "reporting"
_SCAM = "scam"
_NEGATED = re.compile(r"\b(?:pas|not|no|nunca|sin|jamais|never|aucune?|isn t|ain t|"
                      r"nada de)\b[^.!?;]{0,12}$")
"""Before a scam word: what denies it ("c'est pas une arnaque", "not a scam", "no es estafa")."""
_NAMES_NUDITY = frozenset({"sexual", "intimate_image"})
_OF = (" de ", " d ", " of ", " d'")
"""Between a pack or a lot and the children's things it is made of ("pack de vêtements")."""
_BUNDLES = frozenset({"pack", "packs", "lot", "lots", "lote", "lotes", "paquete", "bundle"})
"""The trade words that, followed by `_OF` and children's things, sell them like "vends"."""
_CONDITION_ONLY = frozenset({"etat neuf", "tres bon etat", "bon etat", "porte 2 3 fois",
                             "portes 2 3 fois", "buen estado", "con etiqueta", "poco uso",
                             "nwt", "euc", "gently used"})
"""Goods words that say only what state a thing is in: a listing that names no thing is no
children's-things listing for `Analysis.goods` ("vends fille 4 ans état neuf, photos en mp")."""
_PICTURE_GOODS = re.compile(r"photo|foto|pic|picture")
_SELLING = frozenset({"vends", "je vends", "vente", "a vendre", "vendo", "se vende", "venta",
                      "selling", "for sale"})
"""The trade words of a plain sale. The others ("pack", "vids", "leaks", "collection", "vip",
"teaser") already name content: beside them a child's age is no size."""
_NOT_GOODS = re.compile(r"\b(?:unwashed|not washed|never washed|sin lavar|nunca lavad[oa]s?|"
                        r"non lavee?s?|pas lavee?s?|jamais lavee?s?|"
                        r"underwear|panties|lingerie|culottes?|ropa interior|bragas|calzones|"
                        r"swimsuits?|bikinis?|maillots? de bain|traje de bano|by her|par elle|"
                        r"por ella|sans vetements?|sin ropa|"
                        r"without clothes|no clothes|naked|nues?|desnud[oa]s?)\b")
"""What no plain sale of children's things says: worn and unwashed, underwear, swimwear, no
clothes at all."""
_CRYPTO = frozenset({"btc", "crypto", "paysafecard", "psc"})


@dataclass(frozen=True, slots=True)
class Hit:
    set_name: str
    text: str
    """What matched: the lexicon term, a pattern's match, or a link's URL."""
    span: tuple[int, int]
    """Where, in the plain view of the text (`Analysis.original_span` maps it back)."""


@dataclass(frozen=True, slots=True)
class Analysis:
    folded: Folded
    features: Mapping[str, Hit]
    """The first hit of each set (and link feature) in the text."""
    links: tuple[Link, ...] = ()
    terms_per_set: Mapping[str, int] = field(default_factory=dict)
    """How many distinct terms of each set the text holds (for sets with more than one)."""
    goods: bool = False
    """Children's things sold (`child_goods`) in a text that would be a plain sale of them but
    for a photo word and a private offer ("vends lot de bodies fille 8 ans, très bon état,
    20€, photos en mp"): its rules still fire, but in a server what they find is one message
    for a reviewer, never its place's, server's or writer's making (`TextDetector`)."""

    @property
    def text(self) -> str:
        return self.folded.original

    def original_span(self, hit: Hit) -> tuple[int, int]:
        """Where a hit lies in the original text (computed only when asked: it is rare)."""
        return self.folded.span(*hit.span)


@dataclass(frozen=True, slots=True)
class RuleHit:
    rule: Rule
    hits: tuple[Hit, ...]
    context: tuple[str, ...] = field(default=())
    """The context features the rule relied on."""
    weight: float | None = None
    """The rule's weight as lowered by framings (None: not lowered)."""
    lowered_by: tuple[Rule, ...] = ()
    """The framings that lowered it (prevention, moderation, journalism, a victim's words)."""

    @property
    def strength(self) -> float:
        return self.rule.weight if self.weight is None else self.weight


def _inside(span: tuple[int, int], outer: list[tuple[int, int]]) -> bool:
    return any(lo <= span[0] and span[1] <= hi for lo, hi in outer)


def _asks(features: Mapping[str, Hit], spans: Mapping[str, list[tuple[int, int]]],
          refusing: list[tuple[int, int]], plain: str) -> bool:
    """Whether the text offers or asks anything (a price included), the words of its
    refusals aside ("je vends rien aux mineurs" sells nothing)."""
    for name in _ASKS.intersection(features):
        if name not in _SPANNED or not all(_inside(sp, refusing) for sp in spans.get(name, [])):
            return True
    return _PRICE.search(plain) is not None


_CONTRAST = re.compile(r"\b(?:but|mais|pero|sauf|except|however|sin embargo|in public|en public|"
                       r"en publico|publicly)\b")
"""Later in the text, what turns a refusal into an exception: "i never do anything with an
underage girl but you're different", "i never post any nsfw of minors in public"."""


def _turned_away(spans: Mapping[str, list[tuple[int, int]]], folded: Folded
                 ) -> tuple[bool, bool, bool]:
    """Whether every minor word of the text is turned away rather than offered, and on what
    condition: (all turned away, some by the writer's refusal — unless the text offers or
    asks anything —, some inside a goods phrase — unless the text is no plain sale). Inside
    an adults-only statement, a minor word is turned away for good."""
    plain = folded.plain
    # "no minors excluded", "no underage limit": the words of a refusal turned around.
    refusals = [sp for sp in spans.get(_REFUSAL, []) if not _REVERSED.match(plain, sp[1])]
    refusing, goods = spans.get(_REFUSING, []), spans.get(_GOODS, [])
    if not (refusals or refusing or goods):
        return False, False, False
    sexual = spans.get(_SEXUAL, [])
    by_writer = by_goods = False
    for span in spans.get(_MINOR, []):
        if _inside(span, refusals):
            continue
        # A child addressed ("you're in middle school", "t'es en 4e") is never turned away
        # by a refusal, nor a minor word followed by what welcomes it.
        if (_ADDRESSED.search(plain, max(0, span[0] - 16), span[1]) is None
                and not _WELCOMED.match(plain, span[1])
                and _CONTRAST.search(plain, span[1]) is None
                and _refused(span, refusing, sexual, folded)):
            by_writer = True
        elif _inside(span, goods):
            # "ropa de niña talla 8": a minor word that names what clothes are for (an age
            # beside it is read as one, and judged as a size or not).
            by_goods = True
        else:
            return False, False, False
    return True, by_writer, by_goods


def _refused(span: tuple[int, int], refusing: list[tuple[int, int]],
             sexual: list[tuple[int, int]], folded: Folded) -> bool:
    """The minor word at `span` is what a refusal before it refuses: only the words that name
    the refused thing between them (`_OBJECT_WORDS`, sexual words), and no sentence or
    clause mark in the original text."""
    plain = folded.plain
    for _, end in refusing:
        if end > span[0]:
            continue
        gap = list(_TOKEN_RE.finditer(plain, end, span[0]))
        if sum(m.group() not in _CARRIED for m in gap) > _REFUSED_GAP or not all(
                m.group() in _OBJECT_WORDS or _inside(m.span(), sexual) for m in gap):
            continue
        start, stop = folded.span(end, span[0])
        if _GAP_BREAK.search(folded.original, start, stop) is None:
            return True
    return False


_TOKEN_RE = re.compile(r"[a-z0-9]+")
_LEADING_LOOKBEHIND = re.compile(r"\(\?<!\[[^\]]*\]\)")


def _combine(patterns: list[tuple[int, str]]) -> re.Pattern[str]:
    """One expression for patterns tried together, each a named group (`p<index>`). A
    lookbehind they all start with is checked once per place, not once per pattern (the
    school-year patterns of three languages cost a third as much)."""
    first = _LEADING_LOOKBEHIND.match(patterns[0][1])
    shared = first.group() if first and all(
        p.startswith(first.group()) and not _alternates(p[first.end():])
        for _, p in patterns) else ""
    body = "|".join(f"(?P<p{i}>{p[len(shared):]})" for i, p in patterns)
    return re.compile(f"{shared}(?:{body})" if shared else body)


def _alternates(pattern: str) -> bool:
    """Whether a regular expression has a `|` outside any group or class (a lookbehind in
    front of it would then apply to its first branch only)."""
    depth, in_class, escaped = 0, False, False
    for c in pattern:
        if escaped:
            escaped = False
        elif c == "\\":
            escaped = True
        elif in_class:
            in_class = c != "]"
        elif c == "[":
            in_class = True
        elif c == "(":
            depth += 1
        elif c == ")":
            depth -= 1
        elif c == "|" and depth == 0:
            return True
    return False


def _its_adults(year: tuple[int, int], staff: list[tuple[int, int]], plain: str) -> bool:
    """The teachers of a school year, in the same clause: no child is named."""
    lo, hi = year
    for a, b in staff:
        if lo - _STAFF_REACH[0] <= b and a <= hi + _STAFF_REACH[1]:
            gap = (hi, a) if a >= hi else (b, lo) if b <= lo else (lo, lo)
            if not _CLAUSE.search(plain, *gap):
                return True
    return False


def _a_sale_of_goods(features: Mapping[str, Hit], spans: Mapping[str, list[tuple[int, int]]],
                     plain: str, *, pictures_aside: bool = False) -> bool:
    """Children's things for sale excuse a minor's age only as a size: an age (not a minor
    word), sold with plain selling words only ("vends", or a pack or lot *of* the goods:
    "pack de vêtements garçon"), with no word of pictures, nudity or a private offer, no link
    and no anonymous payment (among every payment word, not only the first). A school year
    (and no minor) names what the goods are for ("vends fournitures de 6e, 10 €, en mp"): the
    same, but a private offer is allowed. `pictures_aside`: whether it would be such a sale
    but for a photo word and a private offer (`Analysis.goods`)."""
    minor, trade = features.get(_MINOR), spans.get("trade", [])
    by_year = minor is None and _SCHOOL_YEAR in features
    pictured = features.keys() & (_PICTURED - {"dm_offer"} if by_year else _PICTURED)
    if pictured == {_PHOTO} and (listing := spans.get(_LISTING)) and all(
            _inside(sp, listing) for sp in spans.get(_PHOTO, [])):
        pictured = set()  # "fotos en el anuncio": the listing's pictures of the goods
    things = [(a, b) for a, b in spans.get(_GOODS, [])
              if plain[a:b].strip() not in _CONDITION_ONLY]
    if pictures_aside:
        if not things:
            return False
        pictured = pictured - {_PHOTO, "dm_offer"}
    # A bundle of things, not of pictures ("pack de photos de classe" is no clothes sale).
    goods_at = {a for a, b in things if _PICTURE_GOODS.search(plain, a, b) is None}

    def selling(a: int, b: int) -> bool:
        word = plain[a:b].strip()
        return word in _SELLING or (word in _BUNDLES and any(
            plain.startswith(of, b) and b + len(of) in goods_at for of in _OF))

    aged = by_year or (minor is not None and _DIGIT.search(minor.text) is not None)
    return (aged and bool(trade) and all(selling(a, b) for a, b in trade)
            and not pictured and "link_any" not in features and "meeting" not in features
            and _NOT_GOODS.search(plain) is None
            and not any(plain[a:b].strip() in _CRYPTO for a, b in spans.get("payment", [])))


class TextAnalyzer:
    def __init__(self, pack: PolicyPack, links: LinkExtractor) -> None:
        self.pack = pack
        self.links = links
        self.version = pack.version
        by_form: dict[str, list[Term]] = {}
        for term in pack.terms:
            by_form.setdefault(term.glued, []).append(term)
        self._forms = list(by_form)
        self._terms = [by_form[f] for f in self._forms]
        self._matcher = ahocorasick_rs.AhoCorasick(self._forms) if self._forms else None
        # The same pattern in several languages is tried once; patterns gated on a term set
        # (`when`) are combined per gate and tried only when that set matched.
        self._patterns = list({(p.set_name, p.regex.pattern, p.when, p.max_number): p
                               for p in pack.patterns}.values())
        gates: dict[tuple[tuple[str, ...] | None, int | None], list[tuple[int, str]]] = {}
        for i, p in enumerate(self._patterns):
            gates.setdefault((p.when, p.max_number), []).append((i, p.regex.pattern))
        self._combined = [(gate, most, _combine(parts))
                          for (gate, most), parts in gates.items()]
        ages = pack.ages
        self._max_minor = ages.max_minor
        self._age_unit = _phrase_regex(ages.units, r"(?:[^a-z0-9]{0,2}(?:-|a|to)[^a-z0-9]{0,2}"
                                       r"[0-9]{1,2})?[^a-z0-9]{0,3}(?:", r")(?![a-z])")
        self._age_prefix = _phrase_regex(ages.prefixes, r"(?<![a-z])(?:", r")[^a-z0-9]{0,3}$")
        self._age_not_after = _phrase_regex(ages.not_after, r"(?<![a-z])(?:",
                                            r")[^a-z0-9]{0,3}$")
        self._age_not_before = _phrase_regex(ages.not_before, r"[^a-z0-9]{0,3}(?:",
                                             r")(?![a-z])")
        self._held: HeldTerms | None = None
        # The last texts analysed (`lru_cache` is C, thread-safe): every detector that reads
        # the event's text gets the same analysis, made once.
        self._recent = functools.lru_cache(maxsize=4)(self._analyze)
        self._rules: dict[TargetKind, list[Rule]] = {}
        self._framings: dict[TargetKind, list[Rule]] = {}
        self._by_quotes: dict[TargetKind, list[Rule]] = {}
        for rule in pack.rules:
            for target in rule.targets:
                into = self._rules if rule.weight > 0 else (
                    self._by_quotes if QUOTED in rule.any_of else self._framings)
                into.setdefault(target, []).append(rule)
        self._triggers = {target: _triggers(rules) for target, rules in self._rules.items()}

    @classmethod
    def load(cls, policy_dir: Path) -> TextAnalyzer:
        """One analyzer per policy folder in a process: the detectors that read text (words,
        conversations, networks) share it, and with it the analysis of the event they all
        read (`analyze` remembers its last texts)."""
        folder = policy_dir.resolve()
        files = [*sorted((folder / "packs").glob("*.toml")), folder / "links.toml"]
        # Keyed by the files' modification times too: an edited policy is loaded afresh.
        stamp = tuple((f.name, f.stat().st_mtime_ns) for f in files if f.exists())
        return _load_shared(folder, stamp)

    def analyze(self, text: str) -> Analysis:
        return self._recent(text)

    def _analyze(self, text: str) -> Analysis:
        folded = fold(text)
        features: dict[str, Hit] = {}
        counts: dict[str, int] = {}
        spans: dict[str, list[tuple[int, int]]] = {}
        self._terms_in(folded, features, counts, spans)
        plain = folded.plain
        held: tuple[Hit, int | None] | None = None
        by_writer = by_goods = False
        if _MINOR in features:
            away, by_writer, by_goods = _turned_away(spans, folded)
            if away:
                # "no minors", "NSFW 18+ only": the minor is turned away, not offered. Any
                # other minor word, or an age outside the refusal, still counts.
                held = (features.pop(_MINOR), counts.pop(_MINOR, None))
        if _DIGIT.search(plain):
            self._ages_in(folded, features, spans.get(_PERSON, ()))
            self._patterns_in(folded, features, spans)
        if _SCHOOL_YEAR in features and _STAFF in features:
            # A school year beside its teachers names no child; another one may.
            own = [y for y in sorted(set(spans[_SCHOOL_YEAR]))
                   if not _its_adults(y, spans[_STAFF], plain)]
            if not own:
                del features[_SCHOOL_YEAR]
            elif features[_SCHOOL_YEAR].span not in own:
                features[_SCHOOL_YEAR] = Hit(_SCHOOL_YEAR, plain[own[0][0]:own[0][1]].strip(),
                                             own[0])
        links = tuple(self.links.extract(folded))
        for link in links:
            span = link.span
            for name in (f"link_{link.kind}", "link_any",
                         *(("link_obfuscated",) if link.obfuscated else ())):
                features.setdefault(name, Hit(name, link.url, span))
        if _SCAM in features and (_NEGATED.search(plain, max(0, features[_SCAM].span[0] - 16),
                                                  features[_SCAM].span[0])
                                  or not _ASKS.isdisjoint(features)
                                  or not _NAMES_NUDITY.isdisjoint(features)):
            # "pas une arnaque", "not a scam", a scam word in a text that offers, or beside
            # nudity ("j'ai fait un faux profil, j'ai ses nudes volées"): no scam called out.
            del features[_SCAM]
        goods = False
        if _GOODS in features and not _a_sale_of_goods(features, spans, plain):
            goods = _a_sale_of_goods(features, spans, plain, pictures_aside=True)
            del features[_GOODS]
        if held is not None and _MINOR not in features and (
                (by_writer and _asks(features, spans, spans.get(_REFUSING, []), plain))
                or (by_goods and _GOODS not in features)):
            # Turned away only on condition, read once prices and links are: a refusal in a
            # text that offers or asks (a seller refuses something else, then sells), a goods
            # phrase in a text that is no plain sale.
            features[_MINOR], count = held
            if count is not None:
                counts[_MINOR] = count
        return Analysis(folded, features, links, counts, goods)

    def analyze_batch(self, texts: Iterable[str]) -> list[Analysis]:
        return [self.analyze(t) for t in texts]

    def _terms_in(self, folded: Folded, features: dict[str, Hit], counts: dict[str, int],
                  spans: dict[str, list[tuple[int, int]]]) -> None:
        if self._matcher is None:
            return
        collapsed = collapse(folded.plain)
        view = glued(collapsed)
        matches = self._matcher.find_matches_as_indexes(view, overlapping=True)
        held = LONG_RUN.search(view) is not None
        if not matches and not held:
            return
        seen: set[tuple[str, int]] = set()
        if matches:
            toks = tokens(collapsed, view)
            for index, start, end in matches:
                for term in self._terms[index]:
                    self._term_hit(term, toks.accepts(start, end, term.shape), features,
                                   counts, seen, spans)
        if held:
            if self._held is None:  # built on first need: most traffic never holds a letter
                self._held = HeldTerms(self.pack.terms)
            for term, span in self._held.find(
                    view, lambda: toks if matches else tokens(collapsed, view)):
                self._term_hit(term, span, features, counts, seen, spans)

    @staticmethod
    def _term_hit(term: Term, span: tuple[int, int] | None, features: dict[str, Hit],
                  counts: dict[str, int], seen: set[tuple[str, int]],
                  spans: dict[str, list[tuple[int, int]]]) -> None:
        if span is None or (term.set_name, span[0]) in seen:
            return
        seen.add((term.set_name, span[0]))
        if term.set_name in _SPANNED:
            spans.setdefault(term.set_name, []).append(span)
        if term.set_name in features:
            counts[term.set_name] = counts.get(term.set_name, 1) + 1
        else:
            features[term.set_name] = Hit(term.set_name, term.text, span)

    def _ages_in(self, folded: Folded, features: dict[str, Hit],
                 persons: Sequence[tuple[int, int]] = ()) -> None:
        """A minor's age: a small number with a unit after it, a prefix before it, or right
        after a person named (a `relation`: "ma cousine, 14", "my little sister (13)",
        "mi prima de 15")."""
        if "minor" in features or (self._age_unit is None and self._age_prefix is None):
            return
        plain = folded.plain
        for m in _SMALL_NUMBER.finditer(plain):
            if int(m.group()) > self._max_minor or m.group() == "0":
                continue
            start, end = m.span()
            lo = max(0, start - 20)
            unit = self._age_unit.match(plain, end) if self._age_unit else None
            if unit is not None:
                if self._age_not_after and self._age_not_after.search(plain, lo, start):
                    continue
                end = unit.end()
            else:
                prefix = self._age_prefix.search(plain, lo, start) if self._age_prefix \
                    else None
                begin = prefix.start() if prefix is not None else self._after_person(
                    plain, persons, start, end, self._age_not_before)
                if begin is None or (prefix is not None and self._age_not_before is not None
                                     and self._age_not_before.match(plain, end)):
                    continue
                start = begin
            features["minor"] = Hit("minor", plain[start:end].strip(), (start, end))
            return

    @staticmethod
    def _after_person(plain: str, persons: Sequence[tuple[int, int]], start: int, end: int,
                      not_before: re.Pattern[str] | None = None) -> int | None:
        """Where the person named before an age begins: "mi prima de 15", or a number set
        apart ("ma cousine, 14, …", "my sister (13) pics", "my ex 15."); not one a word
        follows ("my ex 3 years ago", "ma copine 2 nudes", "my cousin 1v1") nor a height or a
        score ("my ex 6'2", "3-0")."""
        for a, b in persons:
            gap = _AFTER_PERSON.fullmatch(plain, b, start) if b <= start else None
            if gap is None:
                continue
            if _SET_APART.match(plain, end):
                return a
            # The gap is symbols and at most "de": then nothing need follow the number but
            # no unit of a count ("de 10 minutos").
            if "de" in gap.group() and not (
                    not_before is not None and not_before.match(plain, end)):
                return a
        return None

    def _patterns_in(self, folded: Folded, features: dict[str, Hit],
                     spans: dict[str, list[tuple[int, int]]]) -> None:
        # Patterns read numbers (prices, ...): they are tried only near the numbers.
        plain = folded.plain
        numbers: list[tuple[int, int, int]] | None = None  # (start, end, value), found once
        for gate, most, combined in self._combined:
            if gate is not None and features.keys().isdisjoint(gate):
                continue
            if numbers is None:
                numbers = [(n.start(), n.end(), int(n.group()) if n.end() - n.start() <= 3
                            else 10_000) for n in _NUMBER.finditer(plain)]
            done = -1
            for start, end, value in numbers:
                if start < done or (most is not None and (end - start > 3 or value > most)):
                    continue
                lo = max(0, start - _WINDOW)
                window_end = min(len(plain), end + _WINDOW)
                for m in combined.finditer(plain, lo, window_end):
                    if m.start() <= end and m.end() >= start:
                        self._pattern_hit(m, features, spans)
                        done = max(done, m.end())

    def _pattern_hit(self, m: re.Match[str], features: dict[str, Hit],
                     spans: dict[str, list[tuple[int, int]]]) -> None:
        name = m.lastgroup
        if name is None:
            return
        set_name = self._patterns[int(name[1:])].set_name
        if set_name in _SPANNED:
            spans.setdefault(set_name, []).append(m.span())
        if set_name not in features:
            features[set_name] = Hit(set_name, m.group().strip(), m.span())

    def rules(self, analysis: Analysis, target: TargetKind,
              context: Sequence[str] | set[str] | frozenset[str] = frozenset()
              ) -> list[RuleHit]:
        if not analysis.features:
            return []
        ctx = context if isinstance(context, set | frozenset) else set(context)
        fired = self._fire(analysis, target, ctx)
        if fired and (by_quotes := self._by_quotes.get(target)) and (
                own := self.quoting(analysis)) is not None:
            # A hit that fires on the writer's own words too, or that needed the place's
            # context (sellers quote nothing in their own servers), stands.
            # So does one that shares a word set with them, unless they report ("filles de 12
            # ans, le 'pack' complet est là" offers; "j'ai vu « pack » chez ma fille de 10 ans,
            # c'est grave ?" asks).
            says = {h.rule.id for h in self._fire(own, target, ctx)}
            reports = _REPORTING in own.features
            kept: list[RuleHit] = []
            quoted_only: list[RuleHit] = []
            for hit in fired:
                stands = hit.context or hit.rule.id in says or (not reports and any(
                    h.set_name in own.features for h in hit.hits))
                (kept if stands else quoted_only).append(hit)
            fired = kept + _lowered_once(quoted_only, by_quotes)
        if fired and target in self._framings:
            return _framed(fired, self.framings(analysis, target, ctx), analysis)
        return fired

    def _fire(self, analysis: Analysis, target: TargetKind, ctx: set[str] | frozenset[str]
              ) -> list[RuleHit]:
        features = analysis.features
        present = set(features)
        fired: list[RuleHit] = []
        rules = self._rules.get(target)
        if not rules:
            return fired
        by_feature, always = self._triggers[target]
        # Only the rules one of whose required features is present are tried, in order.
        candidates = set(always)
        for name in features:
            candidates.update(by_feature.get(name, ()))
        for i in sorted(candidates):
            rule = rules[i]
            if rule.fires(present, ctx):
                names = [*rule.all_of, *(n for n in rule.any_of if n in features),
                         *(n for group in rule.also_any_of for n in group if n in features)]
                hits = tuple(features[n] for n in dict.fromkeys(names))
                used = tuple(n for n in (*rule.context_all_of, *rule.context_any_of)
                             if n in ctx)
                fired.append(RuleHit(rule, hits, used))
        return fired

    def quote_lowers(self, target: TargetKind) -> frozenset[Category]:
        """The categories the policy's quotation-mark framings lower on `target`."""
        return frozenset(c for f in self._by_quotes.get(target, ()) for c in f.lowers)

    def quoting(self, analysis: Analysis) -> Analysis | None:
        """The writer's own words, analysed, when the text quotes (`quoted`) and its own words
        offer nothing (no trade, payment, private-offer, paid-images, image-request or contact
        words, no link): "'nudes 12 ans' dispo, dm moi" is an offer with its title in
        quotes."""
        own = unquoted(analysis.text)
        if own is None:
            return None
        mine = self.analyze(own)
        return None if _OFFERS & mine.features.keys() else mine

    def framings(self, analysis: Analysis, target: TargetKind,
                 context: Sequence[str] | set[str] | frozenset[str] = frozenset()
                 ) -> list[Rule]:
        """The framings (negative-weight rules) the text carries: prevention, moderation,
        journalism, a victim's own words."""
        rules = self._framings.get(target)
        if not rules or not analysis.features:
            return []
        ctx = context if isinstance(context, set | frozenset) else set(context)
        present = set(analysis.features)
        return [f for f in rules if f.fires(present, ctx)
                and (not f.between or _between(f, analysis) is not None)]


_SENTENCE_BREAK = re.compile(r"[.!?;\n]")
_FIRST_PERSON = re.compile(r"\b(?:je|j|moi|i|im|ive|ill|id|yo|voy|tengo|puedo|pienso|subo|"
                           r"paso|mando)\b")
"""Inside a condemnation: the writer's own part in what is condemned ("ceux qui pensent que
je vais pas les montrer sont des malades" threatens)."""
_TAIL_WORDS = 2
"""Words a condemnation may end with after its verdict ("… sont des malades franchement")."""


def _between(framing: Rule, analysis: Analysis) -> tuple[int, int] | None:
    """Where a `between` framing's subject starts and its verdict ends (None when it does not
    frame the text): the verdict follows the subject in the same sentence, the writer is not
    in between, and nothing but a word or two follows the verdict (what is said after it is
    not condemned, and a term said both inside and after would be read as inside)."""
    first, then = (analysis.features[name] for name in framing.all_of)
    lo, hi = first.span[0], then.span[1]
    if then.span[0] < first.span[1]:
        return None
    plain = analysis.folded.plain
    if _FIRST_PERSON.search(plain, first.span[1], then.span[0]) is not None:
        return None
    if sum(1 for _ in _TOKEN_RE.finditer(plain, hi)) > _TAIL_WORDS:
        return None
    start, stop = analysis.folded.span(lo, hi)
    if _SENTENCE_BREAK.search(analysis.folded.original, start, stop) is not None:
        return None
    return lo, hi


def _framed(fired: list[RuleHit], framings: list[Rule], analysis: Analysis | None = None
            ) -> list[RuleHit]:
    """Lower the hits of the categories the framings name; a veto (-1) removes them. A
    `between` framing lowers only the hits whose words it frames."""
    if not framings:
        return fired
    spans = {f.id: _between(f, analysis) for f in framings if f.between and analysis}
    out = []
    for hit in fired:
        by = tuple(f for f in framings if hit.rule.category in f.lowers and (
            not f.between or ((span := spans.get(f.id)) is not None and all(
                span[0] <= h.span[0] and h.span[1] <= span[1] for h in hit.hits))))
        if not by:
            out.append(hit)
            continue
        weight = hit.strength
        for framing in by:
            weight *= 1.0 + framing.weight
        if weight > 0:
            out.append(replace(hit, weight=round(weight, 4), lowered_by=hit.lowered_by + by))
    return out


def _lowered_once(hits: list[RuleHit], framings: list[Rule]) -> list[RuleHit]:
    """Quoted hits lowered as one per category: a complaint pasting a whole ad fires many rules,
    and lowered one by one they would add back up past a finding. The strongest hit stays,
    carrying the category's combined weight times the framings' factors."""
    out = []
    for category in dict.fromkeys(h.rule.category for h in hits):
        mine = [h for h in hits if h.rule.category is category]
        top = max(mine, key=lambda h: h.strength)
        out += _framed([replace(top, weight=combine([h.strength for h in mine]))], framings)
    return out


_ELIDED = r"(?:em|cause|cuz|cos|coz|til|bout|round|sup|tis|twas|kay|nuff|ya|n|s|\d\ds)\b"
_QUOTES = re.compile(
    # Each class excludes its opening mark too: a run of openers is read once, not once per
    # mark ("«««…" is linear). Curly apostrophes inside words ("‘j’ai tes photos’") stay.
    r"«([^«»\n]{1,300})»|“([^“”\n]{1,300})”|„([^„“”\n]{1,300})[“”]"
    r"|(?<!\w)‘(?!" + _ELIDED + r")((?:[^‘’\n]|(?<=\w)’(?=\w)){1,300}?)(?<!\win)’(?!\w)"
    r"|(?<![\w\"])\"([^\"\n]{1,300})\"(?![\w\"])"
    # An apostrophe opens a quote only where no word runs into it ("c'est", "don't"), nor
    # where it elides ("'em", "'cause"), and closes none after "-in" ("nothin'", "goin'";
    # a French quote ending in "matin" is then no quote: the safe side).
    r"|(?<![\w'])'(?!" + _ELIDED + r")((?:[^'\n]|(?<=\w)'(?=\w)){1,300}?)(?<!\win)'(?![\w'])"
    # Discord's quote lines.
    r"|^>[ \t]?(\S[^\n]{0,300})", re.MULTILINE)
_WORD = re.compile(r"[^\W\d_]{2,}")
"""A word of the writer's own: letters (a price list's "10€, 20€ dm" around quoted item names
says nothing of its own)."""
QUOTE_OWN_WORDS = 4
"""Words a text must say outside its quotes, and at least half as many as inside, for them to
be quotes and not an offer in quotation marks with a few words around it ("'pack … dispo en
dm' lol ok bro"). A writer who pads more can still hide an offer in quotes from the rules
(the learned tier then only hints): a known limit, traded for complaints and reports."""


def quoted(text: str) -> list[tuple[int, int]]:
    """The quoted passages of a text (spans of what is inside the marks), when the text also
    has words of its own; else none. Complaints, reports and warnings quote the offers they
    condemn ("who posted 'pack CP, prix en mp' ?? reported"); an offer seldom quotes itself."""
    return [inner for inner, _ in _quotes(text)]


def unquoted(text: str) -> str | None:
    """The writer's own words: the text with its quotes, marks included, blanked (None: it
    quotes nothing, see `quoted`)."""
    quotes = _quotes(text)
    if not quotes:
        return None
    parts, last = [], 0
    for _, (start, end) in quotes:
        parts.append(text[last:start])
        last = end
    parts.append(text[last:])
    return " ".join(parts)


def _quotes(text: str) -> list[tuple[tuple[int, int], tuple[int, int]]]:
    """(inside, whole) spans of each quote, when the text has words of its own besides."""
    if not any(c in text for c in "'\"«“„‘>"):
        return []
    found, own, said, last = [], 0, 0, 0
    for m in _QUOTES.finditer(text):
        group = next(g for g in range(1, 8) if m.group(g) is not None)
        found.append((m.span(group), m.span()))
        own += len(_WORD.findall(text, last, m.start()))
        said += len(_WORD.findall(text, *m.span(group)))
        last = m.end()
    own += len(_WORD.findall(text, last))
    return found if found and own >= max(QUOTE_OWN_WORDS, said / 2) else []


@functools.lru_cache(maxsize=8)
def _load_shared(policy_dir: Path, _stamp: tuple[tuple[str, int], ...]) -> TextAnalyzer:
    return TextAnalyzer(load_packs(policy_dir / "packs"),
                        LinkExtractor.load(policy_dir / "links.toml"))


def _phrase_regex(phrases: Sequence[str], before: str, after: str) -> re.Pattern[str] | None:
    """One regex for phrases written like terms: words, any separators between them."""
    alternatives = []
    for phrase in sorted(phrases, key=len, reverse=True):
        words = _TOKEN_RE.findall(fold(phrase).plain)
        if words:
            # Letter by letter, so "aaans", "4n5", "anz" and "a n s" read as "ans" (digits
            # stay digits).
            alternatives.append(r"[^a-z0-9]*".join(
                _SPELLED.join(c if c.isdigit() else letter_pattern(c) for c in w)
                for w in words))
    if not alternatives:
        return None
    return re.compile(before + "|".join(alternatives) + after)


def _triggers(rules: Sequence[Rule]) -> tuple[dict[str, tuple[int, ...]], tuple[int, ...]]:
    """For each feature, the rules (by position) that cannot fire without it being present
    or another feature of the same required group: a rule is tried only when one is there.
    Rules that require no feature of the text (context alone) are always tried."""
    by_feature: dict[str, list[int]] = {}
    always: list[int] = []
    for i, rule in enumerate(rules):
        needed = (rule.all_of[:1] or rule.any_of
                  or (rule.also_any_of[0] if rule.also_any_of else ()))
        if not needed:
            always.append(i)
        for name in needed:
            by_feature.setdefault(name, []).append(i)
    return {k: tuple(v) for k, v in by_feature.items()}, tuple(always)


def remember(recent: dict[Any, Any], key: Any, value: Any, size: int) -> None:
    """Keep `key` in a small first-in-first-out memory. Threads of the service share it: two
    may evict the same oldest entry, or find the memory emptied under them; neither is an
    error (a memory only saves work)."""
    if len(recent) >= size:
        with contextlib.suppress(RuntimeError, StopIteration):
            recent.pop(next(iter(recent)), None)
    recent[key] = value
