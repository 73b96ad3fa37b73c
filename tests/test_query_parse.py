"""Parser and type checker: the trees they build, and errors with their codes and positions."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from unicorn.errors import QueryError
from unicorn.query.operators.apply import Apply
from unicorn.query.operators.extract import Extract
from unicorn.query.operators.term import Term
from unicorn.query.operators.weak_and import WeakAnd
from unicorn.query.parse import parse
from unicorn.query.typecheck import check


def error(query, vertical="user") -> QueryError:
    with pytest.raises(QueryError) as info:
        check(parse(query), vertical)
    return info.value


def test_sexpr_tree_with_quotes_escapes_and_modifiers():
    node = parse('(weak-and (term name:"o\\"ne il") (term following:42 :optional-hits 5) :optional-weight 0.3)')
    assert isinstance(node, WeakAnd) and node.optional_weight == 0.3
    first, second = node.operands
    assert (first.prefix, first.value, first.pos) == ("name", 'o"ne il', 16)
    assert (second.prefix, second.value, second.optional_hits) == ("following", "42", 5)


def test_json_form_builds_the_same_tree():
    text = parse("(and (term name:jo) (apply following: (term following:42)) (difference (term is:verified) "
                 "(term is:private)))")
    data = parse({"and": [{"term": "name:jo"}, {"apply": "following:", "query": {"term": "following:42"}},
                          {"difference": [{"term": "is:verified"}, {"term": "is:private"}]}]})
    assert shape(text) == shape(data)


def shape(node):
    if isinstance(node, Term):
        return ("term", node.prefix, node.value)
    if isinstance(node, (Apply, Extract)):
        return (type(node).__name__, getattr(node, "prefix", getattr(node, "field", None)), shape(node.inner))
    return (node.name, [shape(o) for o in node.operands])


@pytest.mark.parametrize("query, position, words", [
    ("(term name:jo", 13, "expected ')'"),
    ("(trem name:jo)", 1, "unknown operator 'trem'"),
    ("(term name:)", 6, "missing value"),
    ("(term :jo)", 6, "missing prefix"),
    ('(term name:"jo)', 11, "unterminated"),
    ("(and)", 0, "at least one operand"),
    ("(difference (term name:a))", 0, "exactly two"),
    ("(term name:jo) (term name:x)", 15, "unexpected text"),
    ("(term name:jo :optional-hits x)", 29, "non-negative integer"),
    ("(term name:jo :boost 2)", 14, "modifier"),
    ("(apply following (term name:x))", 7, "prefix"),
    ("term name:jo", 0, "expected '('"),
])
def test_syntax_errors_name_the_position(query, position, words):
    err = error(query)
    assert err.code == "bad_query"
    assert err.position == position and f"position {position}" in err.message
    assert words in err.message


@pytest.mark.parametrize("query, vertical, position, words", [
    ("(term owner:4)", "user", 6, "media term"),
    ("(term _blocks:4)", "user", 6, "internal"),
    ("(term bogus:4)", "media", 6, "unknown prefix"),
    ("(and (term name:a) (apply owner: (term name:b)))", "user", 26, "does not give user"),
    ("(extract place: (term word:x))", "user", 9, "does not give user"),
    ("(apply hashtag: (term word:x))", "media", 22, "hashtag term"),
    ("(term following:abc)", "user", 6, "user id"),
    ("(term is:famous)", "user", 6, "verified or private"),
    ("(and (term name:a :optional-hits 1))", "user", 11, "only to an operand of weak-and"),
    ("(strong-or (term name:a :optional-hits 1))", "user", 17, "strong-or takes"),
    ("(weak-and (term name:a :optional-hits 1))", "user", 0, "required operand"),
])
def test_type_errors_name_the_position(query, vertical, position, words):
    err = error(query, vertical)
    assert err.code == "bad_query" and err.position == position and words in err.message


def test_json_errors_name_the_path():
    err = error({"and": [{"term": "name:jo"}, {"apply": "owner:", "query": {"term": "name:x"}}]})
    assert err.code == "bad_query" and err.position == "$.and[1]"
    err = error({"or": [{"term": "name:jo"}, {"trem": "name:x"}]})
    assert err.position == "$.or[1]"


def test_values_are_normalized():
    node = check(parse('(and (term name:"Zoë  Ångström") (term following:0042) (term username:JO))'), "user")
    assert [o.value for o in node.operands] == ["zoe angstrom", "42", "jo"]
    assert check(parse("(term hashtag:#Café_Paris)"), "media").value == "cafe_paris"


def test_limits_are_too_large():
    assert error("(term name:" + "a" * 16_400 + ")").code == "too_large"
    deep = "(and " * 32 + "(term name:a)" + ")" * 32
    assert error(deep).code == "too_large"
    check(parse("(and " * 31 + "(term name:a)" + ")" * 31), "user")
    wide = "(or " + " ".join(["(term name:a)"] * 1025) + ")"
    assert error(wide).code == "too_large"
    check(parse("(or " + " ".join(["(term name:a)"] * 1024) + ")"), "user")
    assert error({"or": [{"term": "name:a"}] * 1025}).code == "too_large"


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=60))
def test_any_text_parses_or_fails_cleanly(text):
    try:
        check(parse(text), "user")
    except QueryError as err:
        assert err.code in ("bad_query", "too_large")


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=30))
def test_quoted_values_round_trip(value):
    escaped = value.replace("\\", "\\\\").replace('"', '\\"')
    assert parse(f'(term name:"{escaped}")').value == value
