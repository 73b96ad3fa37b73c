"""The model's SPEC §1 text rules against the SPEC's literal examples, and the product's against the model."""

from __future__ import annotations

import unicodedata

from hypothesis import assume, given, settings
from hypothesis import strategies as st

from tests.model import text as model
from vocabulary import text as product


def test_spec_examples():
    assert model.normalize("Zoë Ångström") == "zoe angstrom"
    assert model.tokens("jean_luc.picard") == ["jean", "luc", "picard"]
    assert model.hashtag_name("#Café_Paris") == "cafe_paris"
    assert model.caption_hashtags("at #Café_Paris today") == ["cafe_paris"]
    assert model.normalize("🌅 Sunset") == "🌅 sunset" and model.hashtag_name("#🌅") == "🌅"
    assert model.tokens("Ｊｏｈｎ ﬁsh") == ["john", "fish"]  # NFKC: full-width letters, the fi ligature
    assert model.normalize("STRASSE Straße") == "strasse strasse"  # casefold, not lower
    assert model.caption_mentions("hi @Jon.Doe. and @zoë!") == ["jon.doe", "zoe"]


def test_the_product_follows_the_spec_examples():
    assert product.normalize("Zoë Ångström") == "zoe angstrom"
    assert product.tokens("jean_luc.picard") == ["jean", "luc", "picard"]
    assert product.hashtag_name("#Café_Paris") == "cafe_paris"


latin_and_more = st.text(st.characters(codec="utf-8", exclude_categories=("Cs", "Cc")), max_size=12)


@settings(max_examples=300)
@given(latin_and_more)
def test_product_normalization_agrees_with_the_model_on_text_without_spacing_marks(text):
    """Only where "combining mark" has one reading: text with no mark of canonical class 0."""
    decomposed = unicodedata.normalize("NFKD", unicodedata.normalize("NFKC", text).casefold())
    assume(not any(unicodedata.category(c).startswith("M") and not unicodedata.combining(c) for c in decomposed))
    assert product.normalize(text) == model.normalize(text)
    assert product.tokens(text) == model.tokens(text)
