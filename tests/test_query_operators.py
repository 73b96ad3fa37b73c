"""Operators own their stages: a new operator is one module (tests/toy_operator.py) plus its
registration, and every stage (parse, type check, plan, evaluate, explain) picks it up by name.
Explain refuses an operator that has no `why`."""

from __future__ import annotations

import dataclasses
import time

import pytest

from firehose.events import validate
from tests import toy_operator
from tests.indexed import indexed
from unicorn.engine import Engine
from unicorn.errors import QueryError
from unicorn.query import explain, operators, plan, privacy
from unicorn.query.evaluate import Context, evaluate
from unicorn.query.explain import UnexplainedOperator
from unicorn.query.operators.term import Term
from unicorn.query.parse import parse
from unicorn.query.typecheck import check


def user(uid: int, name: str, verified: bool) -> dict:
    return validate({"op": "user.upsert", "ts": 0, "user": {"id": uid, "username": name, "full_name": "",
                                                             "is_private": False, "is_verified": verified}})


HISTORY = [user(1, "jo", False), user(2, "joe", True), user(3, "ann", True), user(4, "bob", False)]
QUERY = "(one-of (term name:jo) (term is:verified))"  # jo and joe match the name, joe and ann are verified


@pytest.fixture(scope="module")
def index():
    with indexed(HISTORY) as (index, _):
        yield index


@pytest.fixture
def registered():
    """Registers `one-of` for one test: the one place the engine learns of it."""
    operators.register(toy_operator.OPERATOR)
    try:
        yield toy_operator.OPERATOR
    finally:
        operators.unregister(toy_operator.OPERATOR.name)


def test_an_operator_is_its_module_plus_its_registration(index, registered):
    node = parse(QUERY)
    assert isinstance(node, toy_operator.OneOf) and node.operands[0].value == "jo"
    assert isinstance(parse({"one_of": [{"term": "name:jo"}, {"term": "is:verified"}]}), toy_operator.OneOf)

    check(node, "user")
    assert node.vertical == "user" and all(o.vertical == "user" for o in node.operands)
    with pytest.raises(QueryError) as info:
        check(parse("(one-of (term owner:1))"), "user")  # its operands are type-checked in its vertical
    assert info.value.code == "bad_query"

    with index.reader() as view:
        vis = privacy.Cache().get(view, None)
        planned = plan.plan(node, view, vis, 20)
        assert isinstance(planned, toy_operator.OneOfPlan) and len(planned.children()) == 2
        ctx = Context(view, vis, 20, time.perf_counter() + 60, trace={})
        found = evaluate(planned, ctx)
        assert sorted(view.ext("user", i) for i in found) == [1, 3]
        assert explain.why(planned, view.iid("user", 3), ctx) == ["one-of <- is:verified"]

    got = Engine(index).search("user", QUERY, explain=True, timeout_ms=60_000)
    assert [(r["id"], r["why"]) for r in got.results] == [("1", ["one-of <- name:jo"]),
                                                           ("3", ["one-of <- is:verified"])]
    assert got.total == 2


def test_error_messages_list_the_registered_operators(registered):
    with pytest.raises(QueryError) as info:
        parse("(:x (term name:jo))")
    assert info.value.message.startswith("expected an operator (term, and, or, difference, weak-and, strong-or, "
                                         "apply, extract, one-of)")


def test_an_unregistered_operator_is_unknown():
    with pytest.raises(QueryError) as info:
        parse(QUERY)
    assert info.value.code == "bad_query" and "unknown operator 'one-of'" in info.value.message


def test_a_name_registers_once(registered):
    with pytest.raises(ValueError):
        operators.register(registered)


def test_explain_refuses_an_operator_without_why(index):
    silent = dataclasses.replace(toy_operator.OPERATOR, why=None)
    operators.register(silent)
    try:
        engine = Engine(index)
        assert engine.search("user", QUERY, timeout_ms=60_000).total == 2
        with pytest.raises(UnexplainedOperator, match="'one-of' has no `why`"):
            engine.search("user", QUERY, explain=True, timeout_ms=60_000)
        with index.reader() as view:  # also when asked directly, for a result it did not yield
            vis = privacy.Cache().get(view, None)
            ctx = Context(view, vis, 20, time.perf_counter() + 60, trace={})
            planned = plan.plan(check(parse(QUERY), "user"), view, vis, 20)
            evaluate(planned, ctx)
            with pytest.raises(UnexplainedOperator):
                explain.why(planned, view.iid("user", 4), ctx)
    finally:
        operators.unregister(silent.name)


def test_every_builtin_operator_has_every_stage():
    for operator in operators.BUILTIN:
        assert operator.why is not None and operators.REGISTRY[operator.name] is operator
    assert [op.name for op in operators.BUILTIN] == ["term", "and", "or", "difference", "weak-and", "strong-or",
                                                     "apply", "extract"]
    assert Term.name == "term"
