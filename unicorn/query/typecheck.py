"""Verticals and values (docs/query-language.md-§4): checks a parsed tree for one vertical and normalizes term values.

After `check(tree, vertical)` every node's `vertical` is what it yields and every `Term.value`
is normalized: entity ids as canonical decimals, hashtag names per `text.hashtag_name` (a
leading `#` is dropped), `name:` of users and places as its tokens joined by single spaces
(each must start a token; a value without tokens matches nothing), and `username:`, `word:`,
`city:` normalized whole (they equal one stored value or token, else match nothing).
"""

from __future__ import annotations

from unicorn.errors import QueryError
from unicorn.query.tree import Apply, Difference, Extract, NAry, Node, Pos, StrongOr, Term, WeakAnd
from vocabulary import text
from vocabulary.schema import EXTRACT as EXTRACT_VERTICALS
from vocabulary.schema import VERTICALS

MAX_ID = 2**64 - 1
MAX_ID_DIGITS = len(str(MAX_ID))

# prefix -> value kind per vertical; an entity kind names the vertical its ids belong to
TERMS: dict[str, dict[str, str]] = {
    "user": {"name": "tokens", "username": "exact", "following": "user", "follower": "user", "is": "flag"},
    "media": {"owner": "user", "hashtag": "hashtag", "place": "place", "mention": "user", "liker": "user",
              "word": "exact"},
    "hashtag": {"name": "hashtag"},
    "place": {"name": "tokens", "city": "exact"},
}
# extract field -> the vertical it gives (its inner query is always media)
EXTRACT = {field: gives for field, (_, gives) in EXTRACT_VERTICALS.items()}
FLAGS = ("verified", "private")


def _bad(message: str, pos: Pos) -> QueryError:
    where = f"position {pos}" if isinstance(pos, int) else pos
    return QueryError("bad_query", f"{message} at {where}", pos)


def check_vertical(vertical: str) -> str:
    if vertical not in VERTICALS:
        raise QueryError("bad_request", f"unknown vertical {vertical!r}; expected one of {', '.join(VERTICALS)}")
    return vertical


def check(node: Node, vertical: str) -> Node:
    """Type-check `node` as a query of `vertical`; returns it annotated and normalized."""
    check_vertical(vertical)
    _check(node, vertical, parent=None)
    return node


def _check(node: Node, vertical: str, parent: Node | None) -> None:
    node.vertical = vertical
    _check_modifier(node, parent)
    if isinstance(node, Term):
        _term(node, vertical)
    elif isinstance(node, Apply):
        kinds = TERMS[vertical]
        if node.prefix.startswith("_"):
            raise _bad(f"internal prefix '{node.prefix}:' cannot be queried", node.pos)
        inner = kinds.get(node.prefix)
        if inner not in VERTICALS:
            raise _bad(f"'apply {node.prefix}:' does not give {vertical}; "
                       f"{vertical} applies {_names(p for p, k in kinds.items() if k in VERTICALS)}", node.pos)
        _check(node.inner, inner, node)
    elif isinstance(node, Extract):
        if EXTRACT.get(node.field) != vertical:
            raise _bad(f"'extract {node.field}:' does not give {vertical}; "
                       f"{vertical} extracts {_names(f for f, v in EXTRACT.items() if v == vertical)}", node.pos)
        _check(node.inner, "media", node)
    elif isinstance(node, NAry):
        if isinstance(node, WeakAnd) and all(o.has_modifier for o in node.operands):
            raise _bad("'weak-and' needs at least one required operand (one without a modifier)", node.pos)
        if isinstance(node, Difference) and len(node.operands) != 2:
            raise _bad("'difference' takes exactly two operands", node.pos)
        for operand in node.operands:
            _check(operand, vertical, node)


def _names(names) -> str:
    listed = ", ".join(f"{n}:" for n in names)
    return listed or "nothing"


def _check_modifier(node: Node, parent: Node | None) -> None:
    if not node.has_modifier:
        return
    if isinstance(parent, WeakAnd):
        return
    if isinstance(parent, StrongOr):
        if node.optional_hits is not None:
            raise _bad("':optional-hits' applies to weak-and operands; strong-or takes ':optional-weight'", node.pos)
        return
    raise _bad("a modifier applies only to an operand of weak-and or strong-or", node.pos)


def _term(node: Term, vertical: str) -> None:
    if node.prefix.startswith("_"):
        raise _bad(f"internal term '{node.prefix}:' cannot be queried", node.pos)
    kinds = TERMS[vertical]
    kind = kinds.get(node.prefix)
    if kind is None:
        owners = [v for v in VERTICALS if node.prefix in TERMS[v]]
        if owners:
            raise _bad(f"'{node.prefix}:' is a {' and '.join(owners)} term, not a {vertical} term", node.pos)
        raise _bad(f"unknown prefix '{node.prefix}:'; {vertical} terms are {_names(kinds)}", node.pos)
    value = node.value
    if not value:
        raise _bad(f"missing value after '{node.prefix}:'", node.pos)
    if kind == "tokens":
        node.value = " ".join(text.tokens(value))
    elif kind == "exact":
        node.value = text.normalize(value)
    elif kind == "flag":
        if value not in FLAGS:
            raise _bad(f"'is:' takes {' or '.join(FLAGS)}, got {value!r}", node.pos)
    elif kind == "hashtag":
        node.value = text.hashtag_name(value)
        if not node.value:
            raise _bad(f"empty hashtag in '{node.prefix}:'", node.pos)
    else:
        node.value = str(parse_id(value, node.pos, f"'{node.prefix}:' takes a {kind} id"))


def parse_id(value: str, pos: Pos, what: str) -> int:
    number = decimal(value)
    if number is None:
        raise _bad(f"{what} (an unsigned 64-bit integer), got {shown(value)}", pos)
    return number


def decimal(text: str) -> int | None:
    """The value of a string of ASCII digits when it is at most MAX_ID, else None.

    The length is checked first: int() refuses strings of thousands of digits (ValueError)."""
    if not (text.isascii() and text.isdigit()):
        return None
    digits = text.lstrip("0") or "0"
    if len(digits) > MAX_ID_DIGITS:
        return None
    number = int(digits)
    return number if number <= MAX_ID else None


def shown(value: object) -> str:
    """A request value as an error message quotes it: repr, cut to 80 characters."""
    if isinstance(value, int) and value.bit_length() > 64:
        return f"an integer of {value.bit_length()} bits"
    text = repr(value)
    return text if len(text) <= 80 else f"{text[:77]}..."
