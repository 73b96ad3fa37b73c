"""Slipstream against the plain-Python model: random event sequences, applied in random batches,
give exactly the model's live documents, documents and term postings."""

from __future__ import annotations

import tempfile
import unicodedata
from collections.abc import Iterator
from contextlib import contextmanager

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from indexer.store import Index
from slipstream import Slipstream
from tests.model.platform import Platform
from tests.model.text import normalize, prefixes, tokens
from tests.strategies import events

VERTICALS = ("user", "media", "hashtag", "place")
LIVE = "_live"  # ARCHITECTURE.md: the internal posting of existing documents
SPEC_PREFIXES = {  # SPEC §3
    "user": {"name", "username", "following", "follower", "is"},
    "media": {"owner", "hashtag", "place", "mention", "liker", "word"},
    "hashtag": {"name"},
    "place": {"name", "city"},
}
STORED_PREFIX_CHARS = 8  # ARCHITECTURE.md: `name:` postings hold token prefixes up to 8 characters


@contextmanager
def built(event_list, cuts) -> Iterator[Index]:
    """An index after `event_list`, applied in batches cut at `cuts`; removed on exit."""
    with tempfile.TemporaryDirectory() as tmp:
        index = Index(tmp)
        try:
            bounds = sorted({0, len(event_list), *(c % (len(event_list) + 1) for c in cuts)})
            for lo, hi in zip(bounds, bounds[1:]):
                with index.writer() as batch:
                    slip = Slipstream(batch)
                    for e in event_list[lo:hi]:
                        slip.apply(e)
            yield index
        finally:
            index.close()


STRATEGY_IDS = {"user": range(1, 7), "media": range(100, 107), "place": range(200, 203)}  # tests/strategies.py


def candidate_terms(model: Platform, vertical: str, ids: dict = STRATEGY_IDS) -> set[str]:
    """Terms the model could match, so that a posting missing from the index is caught too."""
    if vertical == "user":
        terms = {"is:private", "is:verified"}
        for u in ids["user"]:
            terms |= {f"following:{u}", f"follower:{u}"}
        for user in model.users.values():
            terms.add(f"username:{normalize(user['username'])}")
            for tok in tokens(user["username"]) + tokens(user["full_name"]):
                terms |= {f"name:{p}" for p in prefixes(tok)}
        return terms
    if vertical == "media":
        terms = {f"{p}:{u}" for p in ("owner", "mention", "liker") for u in ids["user"]}
        terms |= {f"place:{p}" for p in ids["place"]}
        for media in model.media.values():
            terms |= {f"hashtag:{t}" for t in media["hashtags"]}
            terms |= {f"word:{w}" for w in tokens(media["caption"])}
        return terms
    if vertical == "hashtag":
        return {f"name:{p}" for tag in model.hashtags() for p in prefixes(tag)}
    terms = set()
    for place in model.places.values():
        terms |= {f"name:{p}" for tok in tokens(place["name"]) for p in prefixes(tok)}
        terms |= {f"city:{t}" for t in tokens(place["city"])}
    return terms


TEXT_PREFIXES = {"name", "username", "word", "city", "hashtag"}
TEXT_FIELDS = {"user": ("username", "full_name"), "media": ("caption",), "hashtag": ("name",), "place": ("name", "city")}


def two_readings(text: str) -> bool:
    """Whether SPEC's "combining marks removed" reads two ways for `text`: it holds a mark of
    canonical class 0 (tests/test_model_text.py compares the product and the model only without)."""
    decomposed = unicodedata.normalize("NFKD", unicodedata.normalize("NFKC", text).casefold())
    return any(unicodedata.category(c).startswith("M") and not unicodedata.combining(c) for c in decomposed)


def one_reading(model: Platform, vertical: str, ext: int | str) -> bool:
    """Whether the text of a document of the model has one reading (its text terms are comparable)."""
    doc = model.document(vertical, ext)
    texts = [doc[field] for field in TEXT_FIELDS[vertical]] + list(doc.get("hashtags", []))
    return not any(two_readings(text) for text in texts)


def assert_index_equals_model(index: Index, model: Platform, ids: dict = STRATEGY_IDS) -> None:
    """The index holds the model's documents, ranks, links and every term posting; `ids` are the
    external ids events may have named (edges to them are checked even when they hold none).
    Text terms are compared on the documents whose text has one reading (`one_reading`)."""
    with index.reader() as view:
        for vertical in VERTICALS:
            live = view.posting(vertical, LIVE)
            assert {view.ext(vertical, i) for i in live} == model.ids(vertical), vertical
            for i in live:
                ext = view.ext(vertical, i)
                assert view.doc(vertical, i) == model.document(vertical, ext), (vertical, ext)
                if vertical != "hashtag":
                    expected = model.document(vertical, ext)
                    count = {"user": "followers_count", "media": "like_count"}.get(vertical, "media_count")
                    assert view.rank(vertical).count[i] == expected[count]
            two_read = {x for x in model.ids(vertical) if not one_reading(model, vertical, x)}
            stored = {t for t in view.terms(vertical, "") if not t.startswith("_")}
            for term in stored | candidate_terms(model, vertical, ids):
                prefix, _, value = term.partition(":")
                assert prefix in SPEC_PREFIXES[vertical], term
                if prefix == "name" and len(value) > STORED_PREFIX_CHARS:
                    continue
                got = {view.ext(vertical, i) for i in view.posting(vertical, term) & live}
                expected = model.term(vertical, term)
                if prefix in TEXT_PREFIXES:
                    got, expected = got - two_read, expected - two_read
                assert got == expected, (vertical, term)
            if vertical == "media":
                private_owners = {u for u, user in model.users.items() if user["is_private"]}
                got = {view.ext("media", i) for i in view.posting("media", "_private") & live}
                assert got == {m for m, media in model.media.items() if media["owner"] in private_owners}
                for i in live:
                    owner, place, tags, mentions = view.links(i)
                    media = model.media[view.ext("media", i)]
                    assert view.ext("user", owner) == media["owner"]
                    assert [view.ext("hashtag", t) for t in tags] == media["hashtags"]
                    assert [view.ext("user", u) for u in mentions] == model.mentions(media["id"])
                    assert (view.ext("place", place) if place >= 0 else None) == media["place"]
        for blocker, blocked in model.blocks:
            assert view.iid("user", blocked) in view.posting("user", f"_blocks:{blocker}")
            assert view.iid("user", blocker) in view.posting("user", f"_blockedby:{blocked}")
        blocked_pairs = {
            (blocker, view.ext("user", i))
            for blocker in ids["user"]
            for i in view.posting("user", f"_blocks:{blocker}")
        }
        assert blocked_pairs == model.blocks


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(events(), st.lists(st.integers(0, 100), max_size=4))
def test_slipstream_matches_model(event_list, cuts):
    model = Platform()
    for e in event_list:
        model.apply(e)
    with built(event_list, cuts) as index:
        assert_index_equals_model(index, model)


@settings(max_examples=100, deadline=None)
@given(events(40))
def test_replaying_every_event_twice_changes_nothing(event_list):
    """At-least-once delivery: an event applied twice in a row has the effect of once."""
    model = Platform()
    for e in event_list:
        model.apply(e)
    doubled = [e for e in event_list for _ in range(2)]
    with built(doubled, []) as index:
        assert_index_equals_model(index, model)
