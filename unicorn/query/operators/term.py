"""`term PREFIX:VALUE` (docs/query-language.md §4): the documents a term's posting holds.

Type checking normalizes the value per its kind (see TERMS): entity ids as canonical decimals,
hashtag names per `text.hashtag_name` (a leading `#` is dropped), `name:` of users and places as
its tokens joined by single spaces (each must start a token; a value without tokens matches
nothing), and `username:`, `word:`, `city:` normalized whole (they equal one stored value or
token, else match nothing).

Planning reads each posting once and pushes privacy to the leaf: the plan carries the vertical's
visible set, and an edge term (`following:X`, `follower:X`, `liker:X`) the viewer may not see is
empty. `name:` is indexed up to PREFIX_MAX characters per token; longer values are verified
against the document when run.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from pyroaring import AbstractBitMap, BitMap

from unicorn.errors import bad_query
from unicorn.query.operators.base import Empty, Operator, Plan
from unicorn.query.tree import Node, Pos
from unicorn.query.values import decimal, shown
from vocabulary import terms, text
from vocabulary.schema import EDGE_PREFIXES, PREFIX_MAX, VERTICALS

# prefix -> value kind per vertical; an entity kind names the vertical its ids belong to
TERMS: dict[str, dict[str, str]] = {
    "user": {"name": "tokens", "username": "exact", "following": "user", "follower": "user", "is": "flag"},
    "media": {"owner": "user", "hashtag": "hashtag", "place": "place", "mention": "user", "liker": "user",
              "word": "exact"},
    "hashtag": {"name": "hashtag"},
    "place": {"name": "tokens", "city": "exact"},
}
FLAGS = ("verified", "private")


@dataclass(eq=False)
class Term(Node):
    name: ClassVar[str] = "term"
    prefix: str  # without the colon: "name"
    value: str  # as written (unquoted, unescaped), normalized by type checking


@dataclass(eq=False)
class TermPlan(Plan):
    name: ClassVar[str] = "term"
    label: str  # the term as the user wrote it, normalized: "name:jo"
    postings: list[AbstractBitMap]  # intersected, then restricted to `visible`
    visible: AbstractBitMap
    verify: tuple[str, list[str]] | None = None  # ("tokens", long tokens) or ("prefix", [name]): past PREFIX_MAX


def listed(prefixes) -> str:
    """`a:, b:` as type errors list prefixes."""
    return ", ".join(f"{p}:" for p in prefixes) or "nothing"


def check(node: Term, checker) -> None:
    vertical = node.vertical
    if node.prefix.startswith("_"):
        raise bad_query(f"internal term '{node.prefix}:' cannot be queried", node.pos)
    kinds = TERMS[vertical]
    kind = kinds.get(node.prefix)
    if kind is None:
        owners = [v for v in VERTICALS if node.prefix in TERMS[v]]
        if owners:
            raise bad_query(f"'{node.prefix}:' is a {' and '.join(owners)} term, not a {vertical} term", node.pos)
        raise bad_query(f"unknown prefix '{node.prefix}:'; {vertical} terms are {listed(kinds)}", node.pos)
    value = node.value
    if not value:
        raise bad_query(f"missing value after '{node.prefix}:'", node.pos)
    if kind == "tokens":
        node.value = " ".join(text.tokens(value))
    elif kind == "exact":
        node.value = text.normalize(value)
    elif kind == "flag":
        if value not in FLAGS:
            raise bad_query(f"'is:' takes {' or '.join(FLAGS)}, got {value!r}", node.pos)
    elif kind == "hashtag":
        node.value = text.hashtag_name(value)
        if not node.value:
            raise bad_query(f"empty hashtag in '{node.prefix}:'", node.pos)
    else:
        node.value = str(entity_id(value, node.pos, f"'{node.prefix}:' takes a {kind} id"))


def entity_id(value: str, pos: Pos, what: str) -> int:
    number = decimal(value)
    if number is None:
        raise bad_query(f"{what} (an unsigned 64-bit integer), got {shown(value)}", pos)
    return number


def plan(node: Term, planner) -> Plan:
    planner.check_time()
    v, prefix, value = node.vertical, node.prefix, node.value
    label = terms.term(prefix, value)
    verify = None
    if prefix in EDGE_PREFIXES:
        if not planner.vis.edge_term_visible(planner.view, int(value)):
            return Empty(v, node)
    if prefix != "name" or (0 < len(value) <= PREFIX_MAX and (v == "hashtag" or " " not in value)):
        stored = [label]  # one stored term, nothing to verify
    elif v in ("user", "place"):
        tokens = value.split()
        stored = list(dict.fromkeys(terms.name(t[:PREFIX_MAX]) for t in tokens))
        long = [t for t in tokens if len(t) > PREFIX_MAX]
        verify = ("tokens", long) if long else None
    else:  # hashtag: the whole name starts with the value
        stored = [terms.name(value[:PREFIX_MAX])]
        verify = ("prefix", [value])
    if not stored:
        return Empty(v, node)
    postings = [planner.view.posting(v, t) for t in stored]
    estimate = min(map(len, postings))
    if estimate == 0:
        return Empty(v, node)
    return TermPlan(v, node, label, postings, planner.vis.visible[v], verify, estimate=estimate)


def run(node: TermPlan, ctx) -> BitMap:
    postings = sorted(node.postings, key=len)
    result = BitMap(postings[0])
    for posting in postings[1:]:
        result &= posting
    result &= node.visible
    if node.verify is not None:
        result = BitMap(i for i in result if _verified(ctx, node, i))
    return result


def _verified(ctx, node: TermPlan, iid: int) -> bool:
    kind, values = node.verify
    ctx.check_time()
    if kind == "prefix":  # a hashtag: its whole name starts with the value
        return str(ctx.view.ext(node.vertical, iid)).startswith(values[0])
    doc = ctx.view.doc(node.vertical, iid) or {}
    fields = ("username", "full_name") if node.vertical == "user" else ("name",)
    tokens = [t for f in fields for t in text.tokens(doc.get(f) or "")]
    return all(any(t.startswith(v) for t in tokens) for v in values)


def why(node: TermPlan, iid: int, explainer) -> list[str]:
    return [node.label]


OPERATOR = Operator("term", "term", Term, check=check, plan=plan, run=run, why=why)
