from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from veilleur.detect.base import POLICY_DIR
from veilleur.detect.text.analyzer import Analysis, Hit, TextAnalyzer
from veilleur.detect.text.fold import fold
from veilleur.taxonomy import TargetKind

A = TextAnalyzer.load(POLICY_DIR)


def rules(text: str, target: TargetKind = TargetKind.MESSAGE, context: frozenset[str] = frozenset()
          ) -> set[str]:
    return {h.rule.id for h in A.rules(A.analyze(text), target, context)}


def assert_no_finding(text: str) -> None:
    """The rules' strengths on a message, combined as the policy combines them, stay below
    the threshold of a finding."""
    hits = A.rules(A.analyze(text), TargetKind.MESSAGE)
    unsaid = 1.0
    for h in hits:
        unsaid *= 1 - max(0.0, h.strength)
    assert 1 - unsaid < 0.7, [h.rule.id for h in hits]


@pytest.mark.parametrize(("text", "age"), [
    ("Pack -12 ans", "12 ans"), ("13-16 ans", "13-16 ans"), ("j'ai 13", "j'ai 13"),
    ("she's 15", "she's 15"), ("i’m 14 lol", "i m 14"), ("12yo", "12yo"),
    ("tengo 12", "tengo 12"), ("under 16", "under 16"), ("chica de 12 años", "12 anos"),
    # Ages in other digits and spellings: keycaps, math and fullwidth digits, circled numbers,
    # a unit in leet, held, with a final z, or spelled out.
    ("1\ufe0f\u20e34\ufe0f\u20e3 ans", "14 ans"), ("𝟭𝟰 ans", "14 ans"), ("１４ yo", "14 yo"),
    ("⑭ ans", "14 ans"), ("14 4n5", "14 4n5"), ("14 aaans", "14 aaans"), ("14 anz", "14 anz"),
    ("14 a n s", "14 a n s"), ("13 a-ñ-o-s", "13 a-n-o-s"),
])
def test_minor_ages(text: str, age: str) -> None:
    hit = A.analyze(text).features["minor"]
    assert hit.text == age


# A person named, then a bare number, is an age; a count or an ordinal after them is not.
@pytest.mark.parametrize(("text", "age"), [
    ("my little sister (13) lol", "my little sister (13"),
    ("ma petite cousine, 12", "ma petite cousine, 12"),
    ("mi hermanita de 11", "mi hermanita de 11"),
    ("a girl from my class 14", "a girl from my class 14"),
    ("mi ahijada de 14 y", "mi ahijada de 14"),
])
def test_ages_after_a_person(text: str, age: str) -> None:
    assert A.analyze(text).features["minor"].text == age


@pytest.mark.parametrize("text", [
    "ma cousine 10 photos", "my sister 2nd in the race", "ma soeur 3 fois", "mi prima 20",
    "my niece 12 times", "ma soeur 2e du classement",
    "my sister is 12 minutes away", "my little cousin is 2nd", "mi prima tiene 3 fotos",
    "mi hermanita de 10 minutos", "my sister is 6'2", "my sister is 3-0 this season",
    "my sister is 2 years older", "my cousin is 1 of 3", "my cousin is 13 minutes late",
])
def test_counts_and_ranks_after_a_person_are_no_ages(text: str) -> None:
    assert "minor" not in A.analyze(text).features


# School years name children, but of anyone: they are a set of their own. Said of the one
# addressed, they are that minor's age.
@pytest.mark.parametrize(("text", "year"), [
    ("les filles de la 4e B", "la 4e b"), ("photos des 3ème", "des 3eme"),
    ("des filles de 5e au vestiaire", "filles de 5e"), ("high school freshman",
     "high school freshman"),
    ("élèves de 5e", "eleves de 5e"), ("la 3e1 au ski", "la 3e1"), ("(6e)", "(6e"),
    ("en CM2 ??", "en cm2"), ("nouveau stock des cinquièmes", "des cinquiemes"),
    ("in 7th grade", "7th grade"), ("8th gr", "8th gr"), ("yr8 girls", "yr8"),
    ("year nine", "year nine"), ("just started middle school", "middle school"),
    ("2º ESO", "2o eso"), ("1ro de secu", "1ro de secu"), ("6º de primaria", "6o de primaria"),
    ("las de 1er año", "1er ano"), ("séptimo grado", "septimo grado"),
    ("des 4èmes", "des 4emes"), ("year 8s", "year 8s"), ("7th-graders", "7th-graders"),
    ("sixth graders", "sixth graders"), ("en 2nde", "en 2nde"), ("y8 girls", "y8"),
    ("1º de bachillerato", "1o de bachillerato"),
])
def test_school_years(text: str, year: str) -> None:
    assert A.analyze(text).features["school_year"].text == year


@pytest.mark.parametrize("text", [
    "une 3e place au tournoi", "la 3e fois", "grade 7 piano exam", "year 10 of our marriage",
    "3e année de licence", "1er año de la facu", "la 4e étage", "de 5e arrondissement",
    "de 3e génération", "la 5e symphonie", "grade 8 bolts", "between 5 y 9", "dame 2 de eso",
    "last year 6 guys", "en seconde main",
])
def test_ranks_floors_and_exams_are_no_school_years(text: str) -> None:
    assert "school_year" not in A.analyze(text).features


@pytest.mark.parametrize(("text", "age"), [
    ("t'es qu'en CM2 ?", "t'es qu'en cm2"), ("tu es en 5ème", "tu es en 5eme"),
    ("you're in yr 7 right", "you're in yr 7"), ("ur in 8th grade", "ur in 8th grade"),
    ("vas en 2do de secu", "vas en 2do de secu"), ("t'es en cinquième", "t es en cinquieme"),
])
def test_the_school_year_of_the_one_addressed_is_a_minors_age(text: str, age: str) -> None:
    assert A.analyze(text).features["minor"].text == age


@pytest.mark.parametrize(("text", "rule"), [
    ("pics of my little sister (13) for trade, dm me", "csam.relation_minor_images"),
    ("fotos de mi primita de 12, quien las quiere", "csam.relation_minor_images"),
    ("pics of a girl from my class, 8th grade, 20 bucks", "csam.relation_school_year_images"),
    ("packs de las de 2do año, te pago por bizum", "csam.trade_school_year"),
    ("pack des 4e B 10 euros en mp", "csam.trade_school_year"),
    ("nudes des 4e du collège", "csam.sexual_school_year"),
    ("trib ma petite soeur 13 ans", "csam.tribute_minor"),
    ("who wants to trib year 9 girls", "csam.tribute_minor"),
    ("t'es qu'en 6e, garde ça secret", "grooming.secrecy_minor"),
    ("you're in yr 7? send me a pic", "grooming.minor_image"),
    ("7th grade?? keep it secret ok", "grooming.secrecy_school_year"),
])
def test_rules_reading_school_years_and_named_children(text: str, rule: str) -> None:
    assert rule in rules(text)


@pytest.mark.parametrize("text", [
    # Relatives send family pictures in private; school things are sold with their school
    # year and their photos; homework is asked for by photo; a tribute to a child is a tribute.
    "my niece (10) bday pics, dm me if you want the album",
    "photos de ma fille 8 ans au spectacle, je vous les envoie en mp",
    "vendo uniforme de 1º ESO talla 12, 10€, como nuevo, por privado",
    "vends fournitures des 6e, 15 €, en mp",
    "vends livres de 4e 10 euros", "photos de la sortie des 6e dispo sur l'ENT",
    "a tribute to my son, he's 12 today", "8th grade tribute night, tickets $5",
    "mon fils est en 5e et il a un contrôle demain",
    "precio entre 5 y 9 euros, te pago por bizum", "dame 2 de eso, te pago",
    "last year 6 guys saw my nudes", "vends airpods de 3e génération, 80€, paypal",
    "billets pour la 5e symphonie, 30€, en mp", "my cousin 1v1 me, send a pic",
    "elle a 3 nudes qui ont leak, trop nul", "you're 5th in line, send me a pic",
    "t'es en 3e place, envoie une photo",
    # Ordinals that are no school year, adults' own relations with a number after them, and
    # a school year beside its teacher.
    "la 1ère vidéo porno que j'ai vue", "elle m'a envoyé une 3e nude", "du porno de 1ère qualité",
    "leaked nudes of my ex 3 years ago", "ma copine 2 nudes ont leak",
    "my girlfriend, 2 nudes leaked", "ma soeur a 12 abonnés, envoie une photo",
    "if u tell mom i'm sending the pic of you from 4th grade picture day to the family chat",
    "Les élèves de 3e ont eu une sensibilisation sur la diffusion de photos intimes",
    "nudes de la prof principale des 3e", "7th grade teacher nudes leaked",
])
def test_school_years_and_named_children_in_ordinary_talk_are_quiet(text: str) -> None:
    assert not {r for r in rules(text) if r.startswith(("csam.", "grooming."))}


@pytest.mark.parametrize("text", [
    "la photo de classe des CM2 est arrivée, 15 € le pack",
    "pack fournitures des 6e complet, 15 €, photos en mp",
    "selling 7th grade math notes, $5, dm me",
    "Vendo uniforme de 1º ESO talla 12, 10€, como nuevo. Fotos por privado.",
])
def test_a_trade_beside_a_school_year_only_supports(text: str) -> None:
    """Class photos are sold by the pack and school things with their photos: such a trade
    only supports (below a finding alone), never makes a finding on its own."""
    hits = A.rules(A.analyze(text), TargetKind.MESSAGE)
    assert [h.rule.id for h in hits] == ["csam.trade_school_year"]
    assert hits[0].strength < 0.7


@pytest.mark.parametrize(("text", "rule"), [
    # The teachers of one school year do not hide the pupils of another, nor a later clause,
    # nor a teacher a few words on.
    ("la directrice des 3e: nudes des 4e dispo paypal", "csam.sexual_school_year"),
    ("nudes des 4e, la prof a rien vu", "csam.sexual_school_year"),
    ("nudes des 4e la prof a rien vu", "csam.sexual_school_year"),
    ("nudes des 4e\nla prof est au courant", "csam.sexual_school_year"),
    ("8th grade girls nudes no teacher knows", "csam.sexual_school_year"),
    ("nudes des 4e 🔥 prof en pls", "csam.sexual_school_year"),
    ("u in 7th grade? send me a pic", "grooming.minor_image"),
    # Clothes in a trade of pictures are no sale of school things.
    ("pack photos des 4e en uniforme, en mp, paypal", "csam.trade_school_year"),
    ("8th grade girls pics in uniform, pack $10, dm me", "csam.trade_school_year"),
    # A number closed by ")" or "," is an age even before a picture word.
    ("my sister (13) pics for trade", "csam.relation_minor_images"),
    ("ma cousine, 14, photos, qui veut", "csam.relation_minor_images"),
    ("pack 14 ans à échanger, qui veut", "csam.trade_minor_paid"),
])
def test_evasions_of_the_school_year_exclusions(text: str, rule: str) -> None:
    assert rule in rules(text)


def test_the_school_year_found_is_the_one_its_teachers_are_not_beside() -> None:
    features = A.analyze("la directrice des 3e: nudes des 4e dispo").features
    assert features["school_year"].text == "des 4e"
    assert "school_year" not in A.analyze("nudes de la prof principale des 3e").features
    assert "school_year" not in A.analyze("the 8th grade teacher nudes").features
    # Farther than a few words before, or anything but a space after, it names pupils.
    assert "school_year" in A.analyze("la prof elle a vu passer des photos des 3e").features
    assert "school_year" in A.analyze("the 8th grade girls teacher").features
    # A line break ends the clause: the teacher on the line before names no school year.
    assert "school_year" in A.analyze("la prof\nnudes des 4e").features
    assert "school_year" not in A.analyze("la prof nudes des 4e").features


def test_a_school_year_turns_intimate_images_of_a_named_person_into_abuse_material() -> None:
    assert "ncii.relation_sexual" in rules("nudes de ma copine, elle est majeure")
    fired = rules("nudes de ma copine des 4e")
    assert "csam.sexual_school_year" in fired and "ncii.relation_sexual" not in fired


@pytest.mark.parametrize("text", [
    "il y a 10 ans", "hace 10 años", "12 years ago", "j'ai 25 ans", "le patch 2.4", "15/20",
    "18h", "level 12", "5 minutes", "i'm 15 minutes late", "j'ai 13 messages", "tengo 12 vidas",
    "i'll un8an you", "j'ai 2 heeeures",  # a digit inside a word is leet; a held measure word
])
def test_not_ages(text: str) -> None:
    assert "minor" not in A.analyze(text).features


@pytest.mark.parametrize(("text", "rule"), [
    ("ADØS NXDES", "csam.sexual_minor"),
    ("n.u.d.e.s ados", "csam.sexual_minor"),
    ("Pack VIP +400 vidéos -12 ans, 20€ paypal", "csam.trade_minor_paid"),
    ("cp dispo en dm", "csam.cp_trade"),
    ("saphirs à vendre, prix en mp, lien mega. nz/x", "csam.gem_code_trade"),
    ("garde ça secret et envoie-moi une photo", "grooming.secrecy_image"),
    ("she's 15, send pics", "grooming.minor_image"),
    ("un nitro contre une nude", "sextortion.gift_for_nude"),
    ("send more or i'll send it to your parents", "sextortion.threat_images"),
    ("trib ma cousine", "ncii.tribute_relation"),
    ("qui veut tribz ma cousine", "ncii.tribute_relation"),
    ("cumtr1b my sister pls", "ncii.tribute_relation"),
    ("who's tributing my ex tonight", "ncii.tribute_relation"),
])
def test_rules_fire(text: str, rule: str) -> None:
    assert rule in rules(text)


@pytest.mark.parametrize("text", [
    "ne partagez jamais vos nudes, vous êtes mineurs", "mon fils est en CP",
    "superbe saphir, prix sympa, bourse aux minéraux", "mon texture pack est sur mega.nz",
    "sac à dos pour ados", "il y a 10 ans, nudes", "ma recette de caldo de pollo",
    "on lui offre un tribute band pour ma sœur", "nudes", "ados", "12 ans",
    # the stem's other words: tax, a tribe, the Hunger Games, a sex act between adults
    "mi hermana está tributando como autónoma desde enero", "ma soeur adore sa tribu",
    "my sister is a tributer in the hunger games fanfic",
    "me and my girlfriend were tribbing last night",
])
def test_hard_negatives_are_quiet(text: str) -> None:
    assert rules(text) == set()


# Adults-only terms name a minor only to turn one away; an age in a sale of children's things
# is a size; a news report quotes the words. The same words beside a genuine offer, a minor
# or an age outside the refusal, or pictures in the sale still fire.
@pytest.mark.parametrize("text", [
    "comms open! NSFW for 18+ only, minors DNI",
    "NSFW art for adults only, no minor characters",
    "commissions NSFW : majeurs uniquement, pas de mineurs",
    "comis NSFW solo mayores de edad, no se admiten menores",
    "vends poussette et siège auto, 4 ans, très bon état, 40€",
    "vendo chaqueta niño talla 10 años, buen estado, 15€",
    "selling my son's stroller and car seat, 4 yo, gently used, $20",
    # An artist's own refusal: a minor word later in the clause a refusal opens.
    "je ne dessine pas de NSFW avec des personnages mineurs, merci de respecter",
    "i won't do nsfw commissions of minor characters, please don't ask",
    "no dibujo contenido nsfw de menores, gracias por entender",
    "désolé, je vends rien de NSFW à des mineurs, bonne soirée",
    # Clothes named for whom they are, the listing's own pictures, a size.
    "je vends mes rollers taille 10 ans, 5€, mon fils a grandi",
    "we don't draw nsfw of minor characters, thanks for understanding",
    # A longer refusal, its objects joined by "ni": still the writer's own.
    "je ne fais pas de NSFW ni de fanart de personnages mineurs, désolée",
    "vendo ropa de niño talla 6 años, fotos en el anuncio, 12€",
    "vends lot vêtements fille 8 ans, photos dans l'annonce, 15€",
])
def test_a_minor_refused_or_an_age_that_is_a_size_is_no_offer(text: str) -> None:
    assert not {r for r in rules(text) if r.startswith("csam.")}


@pytest.mark.parametrize(("text", "rule"), [
    ("Selon les enquêteurs, des serveurs s'échangeaient des photos intimes volées de "
     "lycéennes", "csam.sexual_minor"),
    ("An investigation found men traded stolen photos of co-workers", "ncii.stolen_intimate"),
])
def test_news_reports_lower_the_rule(text: str, rule: str) -> None:
    hit = next(h for h in A.rules(A.analyze(text), TargetKind.MESSAGE) if h.rule.id == rule)
    assert hit.strength < 0.7 and hit.lowered_by


@pytest.mark.parametrize(("text", "rule"), [
    ("sérieux ceux qui font tourner les photos volées de cette youtubeuse sont des malades",
     "ncii.stolen_intimate"),
    ("people who trade stolen pics of their coworkers should be in jail",
     "ncii.stolen_intimate"),
    ("la gente que comparte fotos robadas de sus ex son unos asquerosos",
     "ncii.stolen_intimate"),
    ("les types qui demandent des nudes à des gamines devraient aller en prison",
     "csam.sexual_minor"),
])
def test_a_bystander_condemning_those_who_do_it_lowers_the_rule(text: str, rule: str) -> None:
    hit = next(h for h in A.rules(A.analyze(text), TargetKind.MESSAGE) if h.rule.id == rule)
    assert hit.strength < 0.7
    assert "framing.condemnation" in {f.id for f in hit.lowered_by}
    assert_no_finding(text)


@pytest.mark.parametrize(("text", "rule"), [
    # The verdict before what is offered, or in another sentence: only what lies between a
    # subject and its verdict is condemned.
    ("people who snitch are trash, i got nudes of 14yo girls", "csam.sexual_minor"),
    ("ceux qui balancent sont des malades. j'ai les nudes de la petite de 14 ans",
     "csam.sexual_minor"),
    # A threat beside the condemnation: no bystander.
    ("ceux qui m'ignorent sont des minables, t'as 24h sinon j'envoie tes photos à tes parents",
     "sextortion.threat_images"),
    # No verdict: the generic subject alone is an offer's "who wants".
    ("ceux qui veulent les photos volées de la meuf, dm moi", "ncii.stolen_intimate"),
    # A verdict beside an offer, a price or a link: no bystander.
    ("ceux qui balancent sont des malades, pack nudes ados 15€ en mp", "csam.trade_minor_paid"),
    ("people who snitch are trash, stolen pics of my ex in the folder t.me/abcd",
     "ncii.stolen_intimate"),
])
def test_a_verdict_beside_an_offer_lowers_nothing(text: str, rule: str) -> None:
    hit = next(h for h in A.rules(A.analyze(text), TargetKind.MESSAGE) if h.rule.id == rule)
    assert "framing.condemnation" not in {f.id for f in hit.lowered_by}


@pytest.mark.parametrize("text", [
    # The abuse words said inside the condemnation and again after it.
    "people who share teen nudes are disgusting, i have nudes of 13yo girls",
    "les gens qui partagent des nudes d'ados sont des malades, moi j'ai des nudes de 13 ans",
    # Praise, not a verdict ("malades", "sick").
    "ceux qui ont pas vu les nudes de la petite de 14 ans, elles sont malades 🔥",
    "anyone who hasn't seen the 14yo girl's nudes yet, the quality is sick 🔥",
    # The writer inside what is condemned: a threat.
    "ceux qui pensent que je vais pas montrer les nudes de mon ex à tout le lycée sont des "
    "malades",
    "whoever thinks i deleted the leaked nudes of my ex is disgusting, still got em",
])
def test_a_condemnation_frames_only_what_it_condemns(text: str) -> None:
    hits = A.rules(A.analyze(text), TargetKind.MESSAGE)
    assert hits and not any("framing.condemnation" in {f.id for f in h.lowered_by}
                            for h in hits)


@pytest.mark.parametrize("text", [
    "en plus c'est une arnaque, les photos de l'annonce sont volées",
    "attention, l'annonce de l'appart à Lille c'est une arnaque, les photos sont volées",
    "heads up, that listing's pics are stolen from another site, it's a scam",
    "cuidado con ese perfil falso, usa fotos robadas de una modelo",
])
def test_stolen_photos_in_a_scam_called_out_are_no_intimate_images(text: str) -> None:
    assert "ncii.stolen_intimate" not in rules(text)


@pytest.mark.parametrize("text", [
    "les photos volées de la voisine, qui veut ?",
    # A scam denied, or a scam word in a text that offers: no scam called out.
    "photos volées de mon ex, c'est pas une arnaque, vraies de vraies",
    "stolen pics of my neighbour, not a scam, full set",
    "fotos robadas de su celular, no es estafa",
    "photos volées de la meuf, aucune arnaque, 10€ en mp",
    # Nudity named: a fake profile is how they were taken, not a scam called out.
    "j'ai fait un faux profil, maintenant j'ai ses nudes volées mdr",
])
def test_stolen_photos_without_a_scam_called_out_stay_intimate_images(text: str) -> None:
    assert "ncii.stolen_intimate" in rules(text)


@pytest.mark.parametrize(("text", "trade"), [
    # A pack or a lot of children's things sells like "vends".
    ("qqn intéressé par un pack de vêtements garçon 6 ans ? porté 2 fois, 25€", False),
    ("vends lot de manteaux fille 8 ans, bon état, 15€", False),
    # A pack of anything else, or a minor word, stays an offer.
    ("pack fille 8 ans, bon état, 15€", True),
    ("pack nudes ados 13 ans, très bon état, 20€ en mp", True),
    # Only a pack or a lot sells like "vends"; a pack of pictures is no clothes sale; worn
    # and unwashed is no plain sale.
    ("drop de vêtements fille 12 ans, 25€", True),
    ("teaser de vêtements fille 12 ans", True),
    ("pack de photos de classe filles 12 ans, 10€", True),
    ("pack de vêtements fille 12 ans portés jamais lavés, 40€", True),
])
def test_a_pack_of_childrens_things_is_a_sale(text: str, trade: bool) -> None:
    assert bool({r for r in rules(text) if r.startswith("csam.trade")}) is trade



@pytest.mark.parametrize(("text", "rule"), [
    ("teen nudes 14yo, $20 in dm. 18+ only lol", "csam.sexual_minor"),
    ("pack nudes ados 14 ans 20€ en dm, pas de mineurs ici", "csam.sexual_minor"),
    ("under 18 only: nudes pack 14yo $20", "csam.sexual_minor"),
    ("fotos de menores no censuradas, nudes pack 20€", "csam.sexual_minor"),
    ("vends photos ado 13 ans sans vêtements 20€ en dm", "csam.trade_minor_paid"),
    ("pack niña 12 años ropa interior, 20€ por paypal", "csam.trade_minor_paid"),
    ("vends manteau fille 10 ans, photos en mp, 20€", "csam.trade_minor_paid"),
    ("vendo pack fotos niña 12 años por paypal", "csam.trade_minor_paid"),
    ("teen nudes $20 in dm, 18+ only", "csam.sexual_minor"),
    ("nudes of minors $20, no minors lol", "csam.sexual_minor"),
    ("nudes pack 20€ en dm, aucun mineur exclu", "csam.sexual_minor"),
    ("vids nudes, no underage limit, dm me", "csam.sexual_minor"),
    ("teen pack $20 paypal, nwt", "csam.trade_minor_paid"),
    ("pack ado 13 ans 20€ paypal, bon état", "csam.trade_minor_paid"),
    ("12yo vids pack $20 t.me/abcd lego", "csam.trade_minor_paid"),
    ("selling 12yo stuff, lego, $20 btc", "csam.trade_minor_paid"),
    ("vends poussette 12 ans, bon état, 40€ paypal ou btc", "csam.trade_minor_paid"),
    # A refusal of something else, then the offer; "only" and "que" turn a refusal round.
    ("je ne fais que des nudes de mineurs", "csam.sexual_minor"),
    ("i don't do censored, nsfw of minors only", "csam.sexual_minor"),
    ("i dont draw anything but nsfw minors", "csam.sexual_minor"),
    ("no acepto efectivo nudes de menores por paypal", "csam.sexual_minor"),
    ("i won't draw sfw, minors nsfw welcome", "csam.sexual_minor"),
    ("vendo fotos de niña 12 años, fotos en el anuncio 20€", "csam.trade_minor_paid"),
    ("vendo ropa de niña talla 8 años, fotos por privado, 20€", "csam.trade_minor_paid"),
    # A refusal of something else, a link after it, content "here": the minor stays.
    ("i don't do sfw nsfw minors all day", "csam.sexual_minor"),
    ("no hago devoluciones nsfw de menores", "csam.sexual_minor"),
    ("i dont draw nsfw of minors t.me/abcd", "csam.sexual_minor"),
    ("i won't take requests nsfw teen pics here", "csam.sexual_minor"),
    # Clothes words beside no sale: the minor word in them stays.
    ("pack nsfw ropa de niña 20€", "csam.sexual_minor"),
    ("tributo ropa de niña", "csam.tribute_minor"),
    # Clothes named only to say there are none: no sale of goods.
    ("vends fille 12 ans sans vêtements 20€", "csam.trade_minor_paid"),
    ("vends manteau fille 12 ans, sans vêtements dessous, 20€", "csam.trade_minor_paid"),
    # A refusal across a sentence mark, then an offer or a price; a child addressed.
    ("not taking requests. nsfw of minors in my folder", "csam.sexual_minor"),
    ("i don't draw sfw — nsfw minors in my folder", "csam.sexual_minor"),
    ("i don't draw nsfw of minors for free, 20$ the folder", "csam.sexual_minor"),
])
def test_offers_still_fire_beside_the_new_exclusions(text: str, rule: str) -> None:
    assert rule in rules(text)


def test_a_name_refusing_minors_still_names_them_when_it_offers_them() -> None:
    assert "csam.name_minor_images" in rules("teen pics - 18+ only", TargetKind.CHANNEL)
    assert rules("nsfw art - adults only, no minors", TargetKind.CHANNEL) == set()


def test_context_decides_for_trade_talk() -> None:
    text = "Teaser du pack, le reste en VIP"
    assert rules(text) == set()
    assert "csam.trade_in_suspect_context" in rules(text, context=frozenset({"suspect.csam"}))
    gem = "saphirs à vendre, prix en mp"
    assert "csam.gem_code_trade" in rules(gem + " dm")
    assert rules(gem, context=frozenset({"mineral_context"})) == set()


def test_hits_map_back_to_the_original_text() -> None:
    text = "Salut, 𝓷𝓾𝓭𝓮𝓼 des ADØS"
    analysis = A.analyze(text)
    spans = {name: analysis.original_span(hit) for name, hit in analysis.features.items()}
    assert text[slice(*spans["sexual"])] == "𝓷𝓾𝓭𝓮𝓼"
    assert text[slice(*spans["minor"])] == "ADØS"


def test_batch_api() -> None:
    out = A.analyze_batch(["nudes ados", "bonjour"])
    assert [sorted(a.features) for a in out] == [["minor", "sexual"], []]


@pytest.mark.parametrize(("text", "set_name"), [
    # Letters held three times or more read as the term; doubled letters are spelling.
    ("nuuuudes", "sexual"), ("teeeen", "minor"), ("paaack", "trade"),
    ("quuuuuel âge as-tu", "age_probe"), ("tu as quel âgeeeee ? envoie-moi", "age_probe"),
    # Words spelled out letter by letter inside a multi-word term, a ligature kept whole.
    ("send m e a pic", "image_request"), ("tribute ma s œ u r", "relation"),
    ("don't t_e_l_l anyone", "secrecy"),
    # A z ending a word reads as s, attached or spelled out; leet symbols inside words.
    ("nudez", "sexual"), ("n_u_d_z", "sexual"), ("p|ct ph0t0z", "photo_word"),
    ("c0|l3g!3nne", "minor"),
    # ... also a word's z inside a multi-word term, spelled out (found by the property test).
    ("e-n-v-o-y-e-z vos photos", "post_call"), ("s-o-u-z la douche", "undressed"),
])
def test_spellings_read_as_terms(text: str, set_name: str) -> None:
    assert set_name in A.analyze(text).features


@pytest.mark.parametrize(("text", "set_name"), [
    ("ten", "minor"), ("nuudes", "sexual"),  # no held letter: no lengthened term
    ("cccp", "cp_code"),  # two-letter code words stay exact
    ("f.i.l.t.r.a.d.o", "minor"),  # no "a.d.o" inside a spelled-out word
    ("ok so p a y", "cooking_context"),  # "so p a" is no spelled "sopa"
])
def test_spellings_that_are_not_terms(text: str, set_name: str) -> None:
    assert set_name not in A.analyze(text).features


@pytest.mark.parametrize(("text", "inside"), [
    ("mods, kai keeps spamming 'CP pack' here, reported", ["CP pack"]),
    ("le bot encore : « nudes 5€ le pack » bloquez-le svp", [" nudes 5€ le pack "]),
    ('he wrote "send more or else" what do i do', ["send more or else"]),
    ("she said “pay or I post it” and blocked me", ["pay or I post it"]),
    ("il m'a dit 'j'ai tes photos' hier soir, je fais quoi", ["j'ai tes photos"]),
    ("il m’a dit ‘j’ai tes photos’ hier soir, je fais quoi", ["j’ai tes photos"]),
    ("er schrieb „pack cp dispo“ und niemand hat reagiert", ["pack cp dispo"]),
    ("> pack cp dispo en dm\nwho keeps posting this here", ["pack cp dispo en dm"]),
    # At least four words of one's own, and half as many as quoted.
    ("'cc dd ee ff gg hh ii jj kk ll' ok so very gross", []),
    ("'cc dd ee ff gg hh' ok so very gross", ["cc dd ee ff gg hh"]),
    ("'cc dd' ok 12 34 56", []),
    # Elisions and marks glued to words are no quotes.
    ("i got 'em all, nothin' else to say here guys", []),
    ("i got ‘em all, nothin’ else to say here guys", []),
    ('a "b"c d e f g h', []),
    # Apostrophes in words, a quote with nothing of the writer's own, a price list.
    ("c'est l'heure, don't worry we're fine", []),
    ("'pack CP dispo'", []),
    ('"pack ados" 10€, "pack VIP" 20€ dm', []),
])
def test_quoted_passages(text: str, inside: list[str]) -> None:
    from veilleur.detect.text.analyzer import quoted, unquoted

    assert [text[a:b] for a, b in quoted(text)] == inside
    own = unquoted(text)
    assert (own is None) == (not inside)
    if own is not None:
        assert not any(q.strip() in own for q in inside)


def test_shipped_quoted_framing_lowers_a_complaint_not_the_offer() -> None:
    offer = "pack cp mineures dispo en dm"
    complaint = f"quelqu'un spam '{offer}' dans le général depuis une heure"
    plain = A.rules(A.analyze(offer), TargetKind.MESSAGE)
    assert plain and all(not h.lowered_by for h in plain)
    lowered = A.rules(A.analyze(complaint), TargetKind.MESSAGE)
    assert lowered and all("framing.quoted" in {f.id for f in h.lowered_by} for h in lowered)


@pytest.mark.parametrize(("text", "lowered"), [
    # Part of the offer in the writer's own words, nothing reported: it stands.
    ("filles de 12 ans, le 'pack' complet est là pour tout le monde ce soir", False),
    ("I got ‘em, the cp pack of 12yo girls, nothin’ like it anywhere else around here", False),
    ("'sup guys got the cp pack of 12yo girls, nothin' like it anywhere else, ask around", False),
    # Where to reach the writer is an offer's own word.
    ("« pack cp mineures » ce soir pour les vrais, lien dans ma bio", False),
    # The same shape from one who reports it: lowered.
    ("j'ai vu « pack » dans les messages de ma fille de 10 ans, c'est grave ?", True),
])
def test_quotes_lower_only_what_the_writer_does_not_say(text: str, lowered: bool) -> None:
    hits = A.rules(A.analyze(text), TargetKind.MESSAGE)
    assert hits
    assert all(bool(h.lowered_by) == lowered for h in hits)


def test_a_pasted_ad_in_a_complaint_does_not_add_back_up_to_a_finding() -> None:
    from veilleur.decide.policy import combine

    text = ("le compte X a posté 'pack pedo 12yo nudes cp vids, dispo ce soir, mp pour le "
            "menu' dans le général, bannissez le svp tout de suite")
    hits = A.rules(A.analyze(text), TargetKind.MESSAGE)
    assert hits and all(h.lowered_by for h in hits)
    by_category: dict[object, list[float]] = {}
    for h in hits:
        by_category.setdefault(h.rule.category, []).append(h.strength)
    assert all(len(v) == 1 for v in by_category.values())
    assert all(combine(v) < 0.5 for v in by_category.values())


# Pictures of people the poster knows, taken or shared behind their backs, in words other
# than "leak" or "nudes" (written for these tests; the corpus families are measured apart).
@pytest.mark.parametrize(("text", "rule"), [
    ("j'ai filmé ma coloc sous la douche avec le tel caché", "ncii.covert_undressed"),
    ("my flatmate in a towel, taken on the sly 🤫", "ncii.covert_undressed"),
    ("grabé a mi cuñada en toalla con el móvil escondido", "ncii.covert_undressed"),
    ("photos de ma voisine en nuisette, elle en sait rien", "ncii.unaware_undressed"),
    ("pics of my gf in the shower, she has no idea, dm to trade", "ncii.unaware_undressed"),
    ("fotos de mi jefa en toalla, no sabe nada, por privado", "ncii.unaware_undressed"),
    ("balancez vos colocs en serviette, le gagnant a un rôle", "ncii.relation_undressed_shared"),
    ("subid fotos de vuestras vecinas en ropa interior", "ncii.relation_undressed_shared"),
    ("anyone interested in pics of my roommate in her underwear?", "ncii.relation_undressed_offer"),
    ("ma femme en petite tenue, photos, ça te tente ?", "ncii.relation_undressed_offer"),
    ("my cousin (13) in the shower on a hidden cam, pics, swap", "csam.covert_child"),
    ("rate my sister in law in her towel out of 10, pics", "ncii.relation_undressed_offer"),
    ("del 1 al 10 mi suegra en ropa interior, fotos", "ncii.relation_undressed_offer"),
    ("my wife's cousin, cumtribs welcome, post yours", "ncii.tribute_images"),
    ("je les trib ce soir, envoyez vos photos", "ncii.tribute_images"),
    ("tributeando a la nueva del curro, fotos por dm", "ncii.tribute_images"),
    ("got an up skirt on the train, dm for the pic", "ncii.voyeur_shot"),
    ("got some up skirt pics of my coworker, who wants", "ncii.voyeur_shot"),
    ("snapped a few of her in the shower, trading", "ncii.undressed_captured_offer"),
    ("pics of my wife asleep on the sly, trading", "ncii.covert_asleep"),
    ("ma petite sœur sous la douche, prises en douce, qui veut ?", "csam.covert_child"),
    ("niece 14yo in the shower, hidden cam, swap only", "csam.covert_child"),
    ("ma demi-sœur 13 ans en serviette, prises en douce", "csam.covert_child"),
    ("petite cousine en 5e en sous-vêtements, prises en douce", "csam.covert_child"),
    ("fotos de mi hermanastra de 2º de la ESO en la ducha, a escondidas, intercambio",
     "csam.covert_child"),
    ("concours : la meilleure photo de vos belles-sœurs, nudes only",
     "ncii.relation_photos_contest"),
    ("rate your exes' nudes out of 10, post pics, winner gets a role",
     "ncii.relation_photos_contest"),
    ("copied her private pics from her icloud, anyone interested?", "ncii.private_pictures"),
    ("tengo sus fotos íntimas de su galería, te las paso por privado", "ncii.private_pictures"),
    ("500 robux for a pic of you in your swimsuit", "grooming.gift_for_undressed"),
    ("je t'envoie une carte cadeau pour une photo de toi en maillot",
     "grooming.gift_for_undressed"),
    ("u owe me the pic in ur undies, i already paid the robux", "sextortion.gift_debt"),
    ("ya te pagué los pavos, me debes la foto o se lo mando a tus padres", "sextortion.gift_debt"),
])
def test_rules_reading_pictures_taken_behind_backs(text: str, rule: str) -> None:
    assert rule in rules(text)


@pytest.mark.parametrize("text", [
    # Asleep, in the shower, changing and "she doesn't know" in ordinary talk; family photo
    # albums; tributes and contests; gifts against drawings; warnings about hidden cameras.
    "ma sœur dort encore, elle sait pas qu'on prépare la fête, envoyez vos photos d'elle bébé",
    "the baby is asleep finally, sending you a pic, she has no idea how cute she is",
    "postez les photos de vos cousines au mariage dans #album",
    "rate my setup out of 10, changing the rgb tonight",
    "mi hermana está en la ducha, ahora te paso la foto del pastel",
    "le tribute video pour notre ancien capitaine est sorti",
    "tribute band tonight, who wants my spare ticket?",
    "500 robux for a drawing of my avatar in its swimsuit skin? dm me",
    "if you find a hidden camera in your rental, report it to the police",
    "gym rule: no phones in the changing room, no photos of anyone in the showers",
    "mi roomie está dormida, no sabe nada de la sorpresa",
    "la cámara oculta del nido ya está en directo: el pájaro durmiendo",
    "my cousin in her bikini at the lake lol, dm me for the album",
    "concours photo du mois : vos chats endormis, le gagnant a un rôle",
    "my sister is in the shower, who wants to play fortnite?",
    "my phone died, her gallery has all the wedding photos, dm me",
    "someone copied my private pics from my icloud, what do i do",
    "the baby is asleep finally, sharing a pic, she has no idea how cute she is",
    "ma sœur est endormie, elle sait pas qu'on prépare la fête, envoyez vos photos d'elle bébé",
    "the nest camera is live: the bird sleeping, photos in the channel",
    "my 5 yo is finally asleep, the blood test results came back fine, took pics of her drawing",
    "the 7th graders are changing for PE, results posted tomorrow, photos on the class page",
    "my wife is asleep, she has no idea I booked the trip, pics of the hotel in dms",
    "my girls are asleep, took a few pics of the fireworks, anyone interested in prints?",
    "my gf is asleep so I'm live rn, join the vc, hmu",
    "my cousin in her pajamas at christmas, family photos in the album, dm me",
    "ma femme est en pyjama, elle a pas vu le cadeau, je partage les photos",
    "ma soeur en maillot à la plage, concours de châteaux de sable, photos",
    "mi esposa está en pijama, no se dio cuenta del regalo, te paso las fotos por privado",
    "mi hermana se quedó sin nada tras el incendio, quien quiere ayudar? fotos de la casa",
    "mom is asleep, she has no idea about the surprise party, dm me for details",
    "halloween costume contest: post pics of you and your roommates, winner gets a role",
    "concours photo : vos soeurs déguisées pour Halloween, votez !",
    "her phone has all the nsfw memes, sharing them later",
    "took a few shots of the baby sleeping, sharing them in the family chat",
    "secretly filmed the proposal, photos coming, she had no idea!",
    "that dress is gorgeous, what's under the dress? a petticoat, pics in dms",
    "my tribute to my best friend, photos from 10 years of friendship",
    "show me your new skins, my brother is sleeping",
    "you owe me 500 robux, my mom is sleeping",
    "la sécu m'a remboursé, ma femme est endormie, elle sait pas, je te passe la photo",
    "my ex is 6'2, swap pics?", "my sister is 3-0 this season, swap team photos?",
    "my sister is 2 years older, took a few pics of her sleeping, swap?",
    "new Renault Triber photos, who wants to swap?",
    # A second review's lines: children's things, pets, nature cameras, spouses asleep.
    'changing table for sale, my 2 yo outgrew it, pics in dm, dm if interested',
    'my 4 year old is changing schools, anyone want the old uniform? pics',
    'my 6 yo in her new bathing suit at the swim meet, pics for anyone who wants them',
    'mi hija de 7 años bañándose en la playa, quien quiere las fotos de las vacaciones?',
    'ma fille de 6 ans dans son bain, qui veut les jouets ? photos en mp',
    ('les élèves de 5e en train de se changer pour le'
     ' spectacle, concours photo du plus beau costume'),
    ("found a hidden cam in the changing room at my 9 yo'"
     's swim class, took pics of it for the police report'),
    ('caméra cachée trouvée dans la douche du camping, ma f'
     "ille de 10 ans qui se douche là, j'ai pris des photos"),
    'les filles de 3e année de droit, nudes de la soirée, qui en veut ?',
    'les nanas de 5e dan de judo, photos sexy du calendrier, qui en veut ?',
    'mi hermana da clases en secundaria, está en la ducha, quien quiere las fotos de la boda?',
    'my classmate is 14, trading pokemon cards, pics?',
    'my sister is 12, show me how to set up parental controls on her phone',
    'my coworker is 9 - 5 every day, photos of the office for trade',
    'the spycam we use as a baby monitor caught the baby sleeping sideways, pic for grandma',
    'hidden camera in the nursery caught our daughter sleeping with the cat, pics',
    "zoomed in on the baby monitor, she's finally asleep, pics for grandma",
    'mi novia dormida en el tren, foto por la ventana del paisaje',
    'par la fenêtre du train, ma copine endormie contre la vitre, photo souvenir',
    "j'ai pris une photo en douce de ma femme endormie devant le film, trop mignonne",
    'my wife asleep on the couch with the dog, snapped on the sly lol',
    'Wildlife Trail Cams: hidden camera photos of foxes, owls and bears sleeping and hunting',
    'Fotografía de naturaleza: fotos con zoom de animales durmiendo, concurso mensual',
    'my girlfriend is showering and she has no idea I bought the ring, pics of it in dms',
    'mi mujer bañándose en el mar, te las paso, fotos de las vacaciones',
    'ma femme en train de se changer, qui veut des places pour le match ? photo des billets',
    'llevo unas mallas debajo de la falda, te paso foto',
    'salt lake trib photos of the parade',
    'fishing report: the tribs are blown out, pics in #reports',
    'la nouvelle Tesla est trop sexy, recharge gratuite ce mois-ci',
    'ma femme en nuisette, qui veut la recette des crêpes ?',
    "the upskirting law passed: taking such pictures is illegal and punishable by law",
])
def test_pictures_of_people_we_know_in_ordinary_talk_are_quiet(text: str) -> None:
    assert_no_finding(text)


# Grooming, one message at a time: the adult's moves in words other than the old stages,
# with the child named (written for these tests; the corpus families are measured apart).
@pytest.mark.parametrize(("text", "rule"), [
    ("t'es en 5e ? mets ta cam ce soir, tes parents sauront rien", "grooming.secrecy_cam"),
    ("ur 13 right? turn ur cam on later, our little secret", "grooming.secrecy_cam"),
    ("¿en qué curso estás? prende la cámara cuando tus papás se duerman", "grooming.secrecy_cam"),
    ("t'as quel âge ? on passe sur telegram, tes parents sauront rien", "grooming.secrecy_app"),
    ("t'es en 5e ? on passe sur snap, c'est plus privé, entre nous", "grooming.secrecy_app"),
    ("you're 12? 500 robux for a selfie, deal?", "grooming.gift_for_picture"),
    ("t'as 13 ans ? je t'offre le passe de combat contre une photo de toi",
     "grooming.gift_for_picture"),
    ("¿en qué curso estás? te regalo pavos por una fotito tuya", "grooming.gift_for_picture"),
    ("ur 13, right? all girls ur age send pics, send me a pic", "grooming.normalised_picture"),
    ("tes copines le font déjà, t'as 12 ans, envoie une photo de toi", "grooming.peers_picture"),
    ("ok i said im 15 but im actually 34", "grooming.age_lie"),
    ("j'ai dit que j'avais 14 ans, en vrai j'en ai 38 ans", "grooming.age_lie"),
    ("me gustan las niñas de tu edad", "grooming.age_preference"),
    ("en 6e ? tu fais plus vieille franchement, on passe sur snap ?", "grooming.looks_for_age"),
    ("8th grade?? u look way older, don't tell ur mom we talk", "grooming.looks_for_age"),
    ("how old r u? does ur mom check ur phone? we could move to kik", "grooming.watch_request"),
    ("t'as 12 ans ? tes parents lisent tes messages ? supprime nos convs alors",
     "grooming.watch_request"),
    ("tu es en 6e ? une photo de toi ce soir quand tes parents dorment",
     "grooming.private_picture"),
    ("7th grade? ur parents can't know about our chats", "grooming.secret_bond"),
    ("tienes 12 no? borra el chat, tus papás no tienen que saber lo nuestro",
     "grooming.secret_bond"),
    ("t'as 13 ans, y a que moi qui te comprends, tes parents doivent rien savoir",
     "grooming.isolating"),
    ("you're 12? your age doesn't bother me, just don't tell your mum",
     "grooming.age_waved_secret"),
    ("agence de mannequins, t'as 12 ans ? envoie des photos de toi, tes parents doivent pas "
     "savoir", "grooming.scout_private"),
])
def test_rules_reading_grooming_moves(text: str, rule: str) -> None:
    assert rule in rules(text)


@pytest.mark.parametrize("text", [
    # The same moves said by tutors, grandparents, teens, partners and moderators: at message
    # level no child is named, so no rule of this kind fires (the conversation, which knows
    # the ages, reads them). Lines of the review of 2026-12-06.
    "For tutoring, turn on your cam and close your door so it's quiet",
    "Grandpa here! facetime me tonight, and don't tell your dad, it's about his gift",
    "Appel vidéo ce soir avec papy, dis rien à ta mère, on prépare la fête",
    "babe video call me when you're alone tonight, just you and me ❤️",
    "Keep it between us until HR announces it, text me on WhatsApp",
    "I'll send you the photo of you from the wedding, you look so grown up",
    "Don't be shy, smile for the photo!",
    "Fais pas le bébé, c'est juste une photo pour la carte d'identité",
    "J'ai mis le gâteau au four, j'ai 30 minutes avant que les ados arrivent",
    "La verdad tengo 45 y mi hija es adolescente, me siento viejo",
    "You're in 3rd grade already? You look older! So mature for your age",
    "Is 13 the perfect age for a first phone? she's 12 years old now",
    "are your parents strict? can you come over saturday for the sleepover?",
    "Just between us two, the cake was store-bought",
    "ur 16, right? selling my old xbox, 150, dm me",
    "t'as 15 ? je vends ma switch 150€, mp",
    "don't tell your mum, it's a surprise for her birthday, send me a photo of the cake",
    "mijo dile a tu mamá que me marque por videollamada, quiero ver tu dibujo",
    "anyone got 3 legendaries? ill add the golden skin if u send first",
    "Aviso de los mods: nadie de confianza te ofrece robux por una foto. Bloquea y reporta.",
    "mes parents ont mis le contrôle parental, je peux plus aller sur whatsapp le soir",
    "la edad no importa para aprender a nadar, mi hijo de 8 años empezó ayer",
    # Parents, teachers and adults keeping something from a parent (second review).
    "Turn on your camera, Maya. Your parents won't see the recording, it's only for class",
    "Facetime me tonight, don't tell your mom, we're planning her 40th",
    "No le digas nada a tu jefe todavía, nos vemos el viernes",
    "You're 9! Happy birthday, send me a pic of you with the cake, don't tell your dad",
    "T'as 15 ? Bravo ! Dis rien à ta mère, je viens te chercher pour fêter ça",
    "Happy 60th Karen! still hot for your age",
    "T'as le contrôle parental sur la Switch ? Montre-moi comment tu l'as réglé",
    "j'ai 30 ans de métier, j'ai dit que j'avais 15 élèves, ce sont des ados",
])
def test_grooming_words_in_ordinary_talk_are_quiet(text: str) -> None:
    assert_no_finding(text)


def test_the_groomers_own_words_are_not_read_as_help() -> None:
    """Offenders say "i have screens" and "i have a surprise for you": neither lowers them."""
    for text in ("i have screens of everything, send more or i'll send them to your parents",
                 "i have a surprise for you, don't tell your parents, send me a pic"):
        hits = A.rules(A.analyze(text), TargetKind.MESSAGE)
        assert any(h.strength >= 0.7 for h in hits), [(h.rule.id, h.strength) for h in hits]


# Only the rules one of whose required features is present are tried (`_triggers`): the rules
# that fire must be exactly those a walk through every rule finds, in the same order.
_NAMES = sorted({n for rs in A._rules.values() for r in rs
                 for n in (*r.all_of, *r.any_of, *r.none_of,
                           *(x for g in r.also_any_of for x in g))})
_CONTEXT = sorted({n for rs in A._rules.values() for r in rs
                   for n in (*r.context_all_of, *r.context_any_of, *r.context_none_of)})


@settings(max_examples=300, deadline=None)
@given(st.sets(st.sampled_from(_NAMES), max_size=6), st.sets(st.sampled_from(_CONTEXT),
                                                            max_size=3),
       st.sampled_from(sorted(A._rules, key=lambda t: t.value)))
def test_rules_tried_by_feature_are_the_rules_that_fire(
        names: set[str], context: set[str], target: TargetKind) -> None:
    features = {n: Hit(n, n, (0, len(n))) for n in names}
    analysis = Analysis(fold(" ".join(sorted(names))), features, (), {})
    walked = [r.id for r in A._rules[target] if r.fires(set(features), context)]
    assert [h.rule.id for h in A._fire(analysis, target, context)] == walked
