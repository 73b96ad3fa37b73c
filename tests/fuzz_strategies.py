"""Hypothesis strategies for tests/test_fuzz.py: near-valid queries (s-expression text and JSON form),
near-valid events (JSON Lines and msgpack), and text/byte mutation of any of them.

Queries are drawn as an abstract tree over the product's own operators and prefixes, then rendered:
values bare, quoted with escapes, or broken; ids small, at 2^64, or thousands of digits; modifiers
with good and bad numbers; separators that are not ASCII spaces; unicode, NUL and lone surrogates.
"""

from __future__ import annotations

import copy
import json

import msgpack
from hypothesis import strategies as st

from firehose.events import REGISTRY
from tests.strategies import event as valid_event
from unicorn.query import operators
from unicorn.query.operators.extract import EXTRACT
from unicorn.query.operators.term import TERMS
from unicorn.query.parse import MAX_DEPTH, MAX_OPERANDS, MODIFIERS

MAX_ID = 2**64 - 1
PREFIXES = sorted({prefix for kinds in TERMS.values() for prefix in kinds})
APPLY_PREFIXES = sorted({prefix for kinds in TERMS.values() for prefix, kind in kinds.items() if kind in TERMS})
EXTRACT_FIELDS = sorted(EXTRACT)

# every code point, lone surrogates (category Cs) and NUL included
any_char = st.characters(exclude_categories=())
no_surrogate_char = st.characters()
SIGNIFICANT = list('()":\\ \t\n#@-_.,0123456789') + ["\x00", "\ud800", "\udfff", "\u00a0", "\u2003", "\u0301", "İ", "ß"]
significant_char = st.sampled_from(SIGNIFICANT) | any_char


def mostly(good: st.SearchStrategy, bad: st.SearchStrategy) -> st.SearchStrategy:
    """`good` four times in five, else `bad` (near-valid input reaches past the first check)."""
    return st.one_of(*(good.map(_same) for _ in range(4)), bad)


def _same(value):
    return value


def huge_digits() -> st.SearchStrategy[str]:
    """Decimal ids past 2^64 - 1, up to thousands of digits (past Python's int-from-string limit)."""
    return st.one_of(st.integers(MAX_ID + 1, 10**40).map(str), st.integers(20, 5000).map(lambda n: "9" * n))


id_text = st.one_of(
    st.integers(0, 40).map(str),
    st.integers(0, MAX_ID).map(str),
    st.sampled_from([str(MAX_ID), str(MAX_ID + 1), "-1", "007", "+5", "1e3", "0x10", "١٢٣", "²", " 1", "1 "]),
    huge_digits(),
)
word_text = st.one_of(
    st.sampled_from(["jo", "Joe", "café", "東京", "o'neil", "#sunset", "#", "##", "@jo", "@", "a b", "(x)",
                     'q"uote', "back\\slash", ":", "a:b", "", "\x00", "\ud800", "İstanbul", "ß", "ﬁ", "e\u0301",
                     "🌅", "verified", "private"]),
    st.text(significant_char, max_size=12),
    st.integers(500, 2000).map(lambda n: "w" * n),  # a key past LMDB's 511 bytes
)
value_text = mostly(st.integers(0, 40).map(str) | st.sampled_from(["jo", "a", "verified", "sunset", "café"]),
                    id_text | word_text)
number_text = st.one_of(
    st.sampled_from(["0", "1", "5", "-1", "0.5", "1.0", "1.5", ".5", "1e-3", "nan", "inf", "-0", "1e309", "", "٣",
                     "0x1", "1_0"]),
    st.integers(0, 10**6).map(str),
    huge_digits(),
)
modifier_name = st.sampled_from(list(MODIFIERS) * 4 + ["optional", "weight", "", "optional_hits", "OPTIONAL-HITS"])
modifiers = mostly(st.just([]), st.lists(st.tuples(modifier_name, number_text), max_size=2))
prefix_text = mostly(st.sampled_from(PREFIXES),
                     st.sampled_from(["", "_docs", "_x", "Name", "name ", "na:me"])
                     | st.text(significant_char, max_size=6))
NARY = sorted(op.name for op in operators.BUILTIN if op.syntax == "operands")
op_text = mostly(st.sampled_from(NARY),
                 st.sampled_from(["AND", "weak_and", "xor", "", "term", "apply", "(and"]))


def _term(prefix, value, mods):
    return ("term", prefix, value, mods)


term_node = st.builds(_term, prefix_text, value_text, modifiers)
query_tree = st.recursive(
    term_node,
    lambda inner: st.one_of(
        st.builds(lambda op, kids, mods: ("nary", op, kids, mods), op_text, st.lists(inner, max_size=4), modifiers),
        st.builds(lambda prefix, kid, mods: ("switch", "apply", prefix, kid, mods),
                  st.sampled_from(APPLY_PREFIXES) | prefix_text, inner, modifiers),
        st.builds(lambda field, kid, mods: ("switch", "extract", field, kid, mods),
                  st.sampled_from(EXTRACT_FIELDS) | prefix_text, inner, modifiers),
    ),
    max_leaves=8,
)

separator = st.sampled_from([" "] * 30 + ["  ", "\t", "\n", "\r\n", "\x0b", "\x0c", "\u00a0", "\u2003", "\x00", ""])


def _quote(value: str) -> str:
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


_VALUE_RENDERINGS = st.sampled_from(["bare"] * 6 + ["quoted"] * 4 + ["half", "unterminated", "dangling"])


def _rendered_value(draw, value: str) -> str:
    how = draw(_VALUE_RENDERINGS)
    if how == "bare":
        return value
    if how == "quoted":
        return _quote(value)
    if how == "half":
        cut = draw(st.integers(0, len(value)))
        return value[:cut] + _quote(value[cut:])
    if how == "unterminated":
        return '"' + value
    return value + "\\"


@st.composite
def sexpr(draw, node=query_tree) -> str:
    """s-expression text of a near-valid query tree."""
    def render(node) -> str:
        sep = lambda: draw(separator)
        kind, mods = node[0], node[-1]
        if kind == "term":
            head = f"term{sep()}{node[1]}:{_rendered_value(draw, node[2])}"
        elif kind == "nary":
            head = node[1] + "".join(sep() + render(kid) for kid in node[2])
        else:
            head = f"{node[1]}{sep()}{node[2]}:{sep()}{render(node[3])}"
        tail = "".join(f"{sep()}:{name}{sep()}{value}" for name, value in mods)
        return f"({sep()}{head}{tail}{sep()})"

    return draw(separator) + render(draw(node)) + draw(separator)


def _nest(depth: int, leaf: str, wrap: str) -> str:
    return wrap * depth + leaf + ")" * depth


big_text_query = st.one_of(
    st.builds(lambda d, w: _nest(d, "(term name:a)", w), st.integers(MAX_DEPTH - 2, MAX_DEPTH + 8),
              st.sampled_from(["(and ", "(or ", "(apply follower: ", "(weak-and ", "(extract owner: "])),
    st.builds(lambda n: "(or" + " (term name:a)" * n + ")", st.integers(MAX_OPERANDS - 2, MAX_OPERANDS + 3)),
    st.builds(lambda n: f"(term name:{'a' * n})", st.integers(16 * 1024 - 16, 16 * 1024 + 16)),
    st.builds(lambda n: "(" * n, st.integers(1, 3000)),
    st.builds(lambda n: "(and " + "(" * n, st.integers(1, 3000)),
)


_TEXT_MUTATIONS = st.sampled_from(["delete", "insert", "duplicate", "replace", "truncate", "swap"])
_INSERTED_TEXT = st.text(significant_char, min_size=1, max_size=4)


@st.composite
def mutated_text(draw, base: st.SearchStrategy[str]) -> str:
    """`base` with a few characters or slices deleted, inserted, duplicated or swapped."""
    text = draw(base)
    for _ in range(draw(st.integers(1, 4))):
        i = draw(st.integers(0, len(text)))
        j = draw(st.integers(i, min(len(text), i + 8)))
        how = draw(_TEXT_MUTATIONS)
        if how == "delete":
            text = text[:i] + text[j:]
        elif how == "insert":
            text = text[:i] + draw(_INSERTED_TEXT) + text[i:]
        elif how == "duplicate":
            text = text[:j] + text[i:j] + text[j:]
        elif how == "replace":
            text = text[:i] + draw(significant_char) + text[i + 1:]
        elif how == "truncate":
            text = text[:i]
        elif j - i >= 2:
            text = text[:i] + text[i + 1] + text[i] + text[i + 2:]
    return text


query_text = st.one_of(sexpr(), sexpr(), sexpr(), mutated_text(sexpr()), big_text_query, st.text(any_char, max_size=40))

# --- JSON form --------------------------------------------------------------------------------

json_scalar = st.one_of(
    st.none(), st.booleans(), st.integers(-(2**63), MAX_ID), st.floats(allow_nan=False, allow_infinity=False),
    st.text(no_surrogate_char, max_size=10), st.sampled_from(["0.5", "1", "name:jo", "following:", ""]),
)
json_value = st.recursive(json_scalar, lambda inner: st.lists(inner, max_size=3) | st.dictionaries(
    st.sampled_from(["term", "and", "query", "apply", "optional_hits", "x"]) | st.text(max_size=5), inner, max_size=3),
    max_leaves=8)
json_number = st.one_of(
    st.integers(-5, 2000), st.integers(-(2**63), MAX_ID), st.floats(allow_nan=False, allow_infinity=False),
    st.sampled_from([0.0, 0.5, 1.0, 1.5, -0.0, True, False, None, "0.5", "3", [], {}]),
)


def no_surrogates(text: str) -> str:
    return text.encode("utf-8", "surrogatepass").decode("utf-8", "replace")


_SPELLINGS = st.sampled_from([0] * 4 + [1] * 4 + [2])
_MOSTLY = st.integers(0, 9)  # 0 one time in ten
_BAD_TERM_ARGS = st.sampled_from(["name", ":x", 5, None, []])
_BAD_OPERAND_LISTS = st.sampled_from([{}, None, "x"])
_EXTRA_KEYS = st.sampled_from(["query", "term", "or", "extra", ""])


@st.composite
def json_query(draw, node=query_tree):
    """The JSON form of a near-valid query tree, as orjson decodes it from a request body."""
    def spell(name: str) -> str:
        return (name, name.replace("-", "_"), name.upper())[draw(_SPELLINGS)]

    def render(node):
        kind, mods = node[0], node[-1]
        if kind == "term":
            obj = {"term": no_surrogates(f"{node[1]}:{node[2]}") if draw(_MOSTLY) else draw(_BAD_TERM_ARGS)}
        elif kind == "nary":
            kids = [render(kid) for kid in node[2]]
            obj = {spell(node[1]): kids if draw(_MOSTLY) else draw(_BAD_OPERAND_LISTS)}
        else:
            obj = {node[1]: no_surrogates(node[2] + (":" if draw(st.booleans()) else ""))}
            if draw(_MOSTLY):
                obj["query"] = render(node[3])
        for name, _ in mods:
            obj[spell(name)] = draw(json_number)
        if not draw(_MOSTLY):
            obj[draw(_EXTRA_KEYS)] = draw(json_value)
        return obj

    return render(draw(node))


def _nest_json(depth: int) -> dict:
    node = {"term": "name:a"}
    for _ in range(depth):
        node = {"and": [node]}
    return node


big_json_query = st.one_of(
    st.integers(MAX_DEPTH - 2, MAX_DEPTH + 8).map(_nest_json),
    st.integers(MAX_OPERANDS - 2, MAX_OPERANDS + 3).map(lambda n: {"or": [{"term": "name:a"}] * n}),
    st.integers(16 * 1024 - 32, 16 * 1024 + 16).map(lambda n: {"term": "name:" + "a" * n}),
)
query_json = st.one_of(json_query(), json_query(), json_query(), big_json_query, json_value)

# --- events -----------------------------------------------------------------------------------

def _nested_list(depth: int) -> list:
    nested: list = []
    for _ in range(depth - 1):
        nested = [nested]
    return nested


_HOSTILE_COMMON = [0, -1, 2**63 - 1, 2**63, MAX_ID, -(2**63), 1.5, -0.0, 1e300, True, False, None, "", "1", "x" * 600,
                   "\x00", "é", [], {}, [1, 2], {"id": 1}, "user.upsert"]
json_hostile = st.one_of(
    st.sampled_from(_HOSTILE_COMMON + [MAX_ID + 1, 10**30, float("nan"), float("inf")]),
    st.integers(20, 4000).map(lambda n: 10**n),  # past u64; stdlib json writes it, orjson reads a float or refuses
    st.text(any_char, max_size=8),
    json_value,
    st.integers(1, 200).map(_nested_list),
)
msgpack_hostile = st.one_of(
    st.sampled_from(_HOSTILE_COMMON + [float("nan"), float("inf"), b"", b"\xff", (1, 2), msgpack.ExtType(5, b"x"),
                                       msgpack.Timestamp(1, 2), {1: 2}, {None: 1}, {b"op": b"user.delete"}]),
    st.binary(max_size=8),
    st.text(any_char, max_size=8),
    json_value,
)


def _paths(obj, path=()):
    yield path
    if isinstance(obj, dict):
        for key, value in obj.items():
            yield from _paths(value, path + (key,))
    elif isinstance(obj, list):
        for i, value in enumerate(obj):
            yield from _paths(value, path + (i,))


_VALID_EVENT = valid_event()
_EVENT_MUTATIONS = st.sampled_from(["replace", "replace", "delete", "add", "op"])
_ADDED_KEYS = st.sampled_from(["extra", "op", "ts", "user", "media", "id"])
_OP_NAMES = st.sampled_from(sorted(REGISTRY))


@st.composite
def near_valid_event(draw, hostile):
    """A valid event with a few fields deleted, replaced by hostile values, added, or its op swapped."""
    obj = draw(_VALID_EVENT)
    for _ in range(draw(st.integers(0, 3))):
        paths = list(_paths(obj))
        path = paths[draw(st.integers(0, len(paths) - 1))]
        if not path:
            if draw(_MOSTLY) == 0:
                obj = copy.deepcopy(draw(hostile))
            if not isinstance(obj, dict):
                break
            continue
        parent = obj
        for step in path[:-1]:
            parent = parent[step]
        how = draw(_EVENT_MUTATIONS)
        if how == "replace":
            parent[path[-1]] = copy.deepcopy(draw(hostile))
        elif how == "delete":
            del parent[path[-1]]
        elif how == "add" and isinstance(parent, dict):
            parent[draw(_ADDED_KEYS)] = copy.deepcopy(draw(hostile))
        elif isinstance(obj, dict):
            obj["op"] = draw(_OP_NAMES) if draw(st.booleans()) else copy.deepcopy(draw(hostile))
    return obj


_LINE_ENDS = st.sampled_from(["", "\n", "\r\n", " ", "\n{}"])


@st.composite
def json_line(draw) -> bytes | str:
    """A near-valid event as one JSON Lines record (stdlib json: big ints and NaN as written), bytes or str."""
    obj = draw(near_valid_event(json_hostile))
    try:
        text = json.dumps(obj, ensure_ascii=draw(st.booleans()))
    except (ValueError, RecursionError):  # past the int-to-str limit or stdlib's recursion limit
        text = "[]"
    text += draw(_LINE_ENDS)
    if draw(st.booleans()):
        return text
    return text.encode("utf-8", "surrogatepass")


@st.composite
def msgpack_record(draw) -> bytes:
    """A near-valid event as a wire record, packed with or without msgpack's bin type."""
    obj = draw(near_valid_event(msgpack_hostile))
    return msgpack.packb(obj, use_bin_type=draw(st.booleans()), unicode_errors="surrogatepass")


_BYTE_MUTATIONS = st.sampled_from(["flip", "insert", "delete", "duplicate", "truncate"])
_INSERTED_BYTES = st.binary(min_size=1, max_size=4) | st.sampled_from(
    [b"\x00", b"\xff", b"\xc0", b"\xed\xa0\x80", b"\xef\xbb\xbf", b'"', b"9" * 30])


@st.composite
def mutated_bytes(draw, base) -> bytes:
    """`base` (bytes or str) with a few bytes flipped, inserted, deleted, duplicated, or the tail cut."""
    data = draw(base)
    data = bytearray(data.encode("utf-8", "surrogatepass") if isinstance(data, str) else data)
    for _ in range(draw(st.integers(1, 4))):
        i = draw(st.integers(0, len(data)))
        how = draw(_BYTE_MUTATIONS)
        if how == "flip" and i < len(data):
            data[i] ^= 1 << draw(st.integers(0, 7))
        elif how == "insert":
            data[i:i] = draw(_INSERTED_BYTES)
        elif how == "delete":
            del data[i:i + draw(st.integers(1, 8))]
        elif how == "duplicate":
            data[i:i] = data[i:i + draw(st.integers(1, 16))]
        elif how == "truncate":
            del data[i:]
    return bytes(data)


deep_json_record = st.integers(1, 2000).map(lambda d: b'{"op":"user.delete","ts":1,"id":' + b"[" * d + b"]" * d + b"}")
json_record = st.one_of(json_line(), json_line(), mutated_bytes(json_line()), deep_json_record, st.binary(max_size=64),
                        st.text(any_char, max_size=32))
msgpack_payload = st.one_of(msgpack_record(), msgpack_record(), mutated_bytes(msgpack_record()), st.binary(max_size=64))
