"""The terms of a document (docs/query-language.md): pure functions of the document."""

from __future__ import annotations

from vocabulary import terms as term
from vocabulary.schema import PREFIX_MAX
from vocabulary.text import normalize, tokens


def prefixes(token: str) -> list[str]:
    return [token[:n] for n in range(1, min(len(token), PREFIX_MAX) + 1)]


def name_terms(*texts: str) -> set[str]:
    """`name:` prefix terms of every token of the texts."""
    return {term.name(p) for text in texts for token in tokens(text) for p in prefixes(token)}


def user_terms(user: dict) -> set[str]:
    terms = name_terms(user["username"], user["full_name"])
    terms.add(term.LIVE)
    terms.add(term.username(normalize(user["username"])))
    if user["is_verified"]:
        terms.add(term.VERIFIED)
    if user["is_private"]:
        terms.add(term.PRIVATE_USER)
    return terms


def mention_terms(mentions: list[int]) -> set[str]:
    return {term.mention(user) for user in mentions}


def caption_name_terms(names: list[str]) -> set[str]:
    """Internal `_atname:NAME` terms of the normalized `@names` that a media's mentions come from."""
    return {term.atname(name) for name in names}


def media_terms(media: dict, owner_private: bool) -> set[str]:
    """Terms of a media document; `_private` when its owner is private."""
    terms = {term.LIVE, term.owner(media["owner"])}
    terms.update(term.hashtag(tag) for tag in media["hashtags"])
    terms.update(mention_terms(media["mentions"]))
    terms.update(term.word(word) for word in tokens(media["caption"]))
    if media["place"] is not None:
        terms.add(term.place(media["place"]))
    if owner_private:
        terms.add(term.PRIVATE_MEDIA)
    return terms


def hashtag_terms(name: str) -> set[str]:
    return {term.LIVE, *(term.name(p) for p in prefixes(name))}


def place_terms(place: dict) -> set[str]:
    terms = name_terms(place["name"])
    terms.add(term.LIVE)
    terms.update(term.city(token) for token in tokens(place["city"]))
    return terms
