"""Query text or JSON -> query tree (docs/query-language.md), with docs/http-api.md's size limits.

S-expression form::

    (and (term name:jo) (apply following: (term following:42)) :optional-weight 0.5)

A value with spaces, parentheses, quotes or a colon is double-quoted; inside quotes a backslash
makes the next character literal (`name:"o\\"neil"`). Modifiers follow the operands.

JSON form, the same tree (operator names with `-` or `_`, modifiers with `_` or `-`)::

    {"and": [{"term": "name:jo"},
             {"apply": "following:", "query": {"term": "following:42"}}],
     "optional_weight": 0.5}

`{"term": "PREFIX:VALUE"}` takes the value verbatim (no quoting); `apply` / `extract` name the
prefix with or without the trailing colon; `difference` takes a list of exactly two queries.

How each operator is written comes from its registration (operators/): its `syntax` and `arity`.
Errors raise `QueryError("bad_query")` naming the position: a 0-based character offset in text,
a JSON path (`$.and[1].term`) in JSON. Text over 16 KiB, nesting deeper than 32, or more than
1,024 operands in all raise `QueryError("too_large")`.
"""

from __future__ import annotations

import math
import re
from typing import Any

import orjson

from unicorn.errors import QueryError, bad_query, where
from unicorn.query import operators
from unicorn.query.operators.base import Operator
from unicorn.query.tree import Node, Pos
from unicorn.query.values import decimal

MAX_BYTES = 16 * 1024
MAX_DEPTH = 32
MAX_OPERANDS = 1024
MODIFIERS = ("optional-hits", "optional-weight")
_DELIMITERS = frozenset("()\"") | frozenset(" \t\r\n\f\v")


def parse(query: str | dict) -> Node:
    """The tree of a query given as s-expression text or as its JSON form (a dict)."""
    if isinstance(query, str):
        return parse_text(query)
    if isinstance(query, dict):
        return parse_json(query)
    raise bad_query(f"query must be a string or a JSON object, got {type(query).__name__}", "$")


class _Limits:
    def __init__(self) -> None:
        self.operands = 0

    def enter(self, depth: int, pos: Pos) -> None:
        if depth > MAX_DEPTH:
            raise QueryError("too_large", f"query nested deeper than {MAX_DEPTH} at {where(pos)}", pos)

    def operand(self, pos: Pos) -> None:
        self.operands += 1
        if self.operands > MAX_OPERANDS:
            raise QueryError("too_large", f"query has more than {MAX_OPERANDS} operands at {where(pos)}", pos)


def _names(separator: str = "-") -> str:
    """The registered operators' names, as error messages list them."""
    return ", ".join(name.replace("-", separator) for name in operators.REGISTRY)


# --- s-expressions ---------------------------------------------------------------------------


class _Word:
    """A bare token; `quoted` marks a double-quoted part, `prefix` is the text before its first bare colon."""

    def __init__(self, pos: int, text: str, prefix: str | None, quoted: bool) -> None:
        self.pos, self.text, self.prefix, self.quoted = pos, text, prefix, quoted


_PLAIN = re.compile("[^" + re.escape("".join(sorted(_DELIMITERS))) + "]*")  # a word's run up to a quote or delimiter


def _lex(text: str) -> list[tuple[str, int, _Word | None]]:
    tokens: list[tuple[str, int, _Word | None]] = []
    i, n = 0, len(text)
    while i < n:
        c = text[i]
        if c in "()":
            tokens.append((c, i, None))
            i += 1
        elif c.isspace():
            i += 1
        elif (end := _PLAIN.match(text, i).end()) == n or text[end] != '"':  # no quoted part: sliced whole
            word = text[i:end]
            prefix, colon, rest = word.partition(":")
            tokens.append(("word", i, _Word(i, rest, prefix, False) if colon else _Word(i, word, None, False)))
            i = end
        else:
            start, parts, prefix, quoted = i, [], None, False
            while i < n and (text[i] == '"' or text[i] not in _DELIMITERS):
                if text[i] == '"':
                    quoted, i = True, _quoted(text, i, parts)
                    continue
                if text[i] == ":" and prefix is None and not quoted:
                    prefix = "".join(parts)
                    parts = []
                else:
                    parts.append(text[i])
                i += 1
            tokens.append(("word", start, _Word(start, "".join(parts), prefix, quoted)))
    return tokens


def _quoted(text: str, i: int, out: list[str]) -> int:
    """Append the unescaped content of the quoted string starting at `i`; return the index after it."""
    start, i = i, i + 1
    while i < len(text):
        c = text[i]
        if c == "\\":
            if i + 1 == len(text):
                break
            out.append(text[i + 1])
            i += 2
        elif c == '"':
            return i + 1
        else:
            out.append(c)
            i += 1
    raise bad_query("unterminated quoted string", start)


class _TextParser:
    def __init__(self, text: str) -> None:
        self.tokens = _lex(text)
        self.end = len(text)
        self.i = 0
        self.limits = _Limits()

    def peek(self):
        return self.tokens[self.i] if self.i < len(self.tokens) else ("end", self.end, None)

    def take(self):
        token = self.peek()
        self.i += 1
        return token

    def expect_close(self, opened: int) -> None:
        kind, pos, _ = self.take()
        if kind != ")":
            what = "end of query" if kind == "end" else repr(self._show(kind, pos))
            raise bad_query(f"expected ')' closing the '(' at position {opened}, found {what}", pos)

    def _show(self, kind: str, pos: int) -> str:
        return kind if kind != "word" else self.tokens[self.i - 1][2].text or ":"

    def query(self) -> Node:
        node = self.expr(1)
        kind, pos, _ = self.peek()
        if kind != "end":
            raise bad_query("unexpected text after the query", pos)
        return node

    def expr(self, depth: int) -> Node:
        kind, pos, _ = self.take()
        if kind != "(":
            found = "end of query" if kind == "end" else f"'{kind}'" if kind == ")" else "a bare word"
            raise bad_query(f"expected '(' starting an expression, found {found}", pos)
        self.limits.enter(depth, pos)
        kind, op_pos, word = self.take()
        if kind != "word" or word.prefix is not None or word.quoted:
            raise bad_query(f"expected an operator ({_names()})", op_pos)
        op = operators.REGISTRY.get(word.text)
        if op is None:
            raise bad_query(f"unknown operator {word.text!r}", op_pos)
        if op.syntax == "term":
            node = self.term_word(op)
        elif op.syntax == "prefix":
            node = self.prefixed(op, depth)
        else:
            node = self.operands(op, pos, depth)
        self.modifiers(node)
        self.expect_close(pos)
        return node

    def term_word(self, op: Operator) -> Node:
        kind, wpos, word = self.take()
        if kind != "word" or word.prefix is None:
            raise bad_query(f"expected PREFIX:VALUE after '{op.name}'", wpos)
        if not word.prefix:
            raise bad_query("missing prefix before ':'", wpos)
        if not word.text and not word.quoted:
            raise bad_query(f"missing value after '{word.prefix}:'", wpos)
        return op.node(wpos, word.prefix, word.text)

    def prefixed(self, op: Operator, depth: int) -> Node:
        kind, wpos, word = self.take()
        if kind != "word" or word.prefix is None or word.text or word.quoted:
            raise bad_query(f"expected a prefix such as 'owner:' after '{op.name}'", wpos)
        self.limits.operand(self.peek()[1])
        inner = self.expr(depth + 1)
        return op.node(wpos, word.prefix, inner)

    def operands(self, op: Operator, pos: int, depth: int) -> Node:
        operands: list[Node] = []
        while self.peek()[0] == "(":
            self.limits.operand(self.peek()[1])
            operands.append(self.expr(depth + 1))
        _arity(op, operands, pos)
        return op.node(pos, operands)

    def modifiers(self, node: Node) -> None:
        while True:
            kind, pos, word = self.peek()
            if kind != "word":
                return
            if word.prefix != "" or word.quoted or word.text not in MODIFIERS:
                raise bad_query(f"expected a modifier ({', '.join(':' + m for m in MODIFIERS)}) or ')'", pos)
            self.take()
            kind, vpos, value = self.take()
            if kind != "word" or value.prefix is not None or value.quoted:
                raise bad_query(f"expected a number after ':{word.text}'", vpos)
            _set_modifier(node, word.text, value.text, pos, vpos)


def _arity(op: Operator, operands: list[Node], pos: Pos) -> None:
    if not operands:
        raise bad_query(f"'{op.name}' needs at least one operand", pos)
    if op.arity is not None:
        op.arity(operands, pos)


def _set_modifier(node: Node, name: str, raw: Any, pos: Pos, vpos: Pos) -> None:
    if node.has_modifier:
        raise bad_query("an expression takes at most one modifier", pos)
    if name == "optional-hits":
        hits = _int(raw)
        if hits is None or hits < 0:
            raise bad_query(f"optional-hits must be a non-negative integer, got {raw!r}", vpos)
        node.optional_hits = hits
    else:
        weight = _float(raw)
        if weight is None or not 0.0 <= weight <= 1.0:
            raise bad_query(f"optional-weight must be a number from 0 to 1, got {raw!r}", vpos)
        node.optional_weight = weight


def _int(raw: Any) -> int | None:
    if isinstance(raw, bool):
        return None
    if isinstance(raw, int):
        return raw
    if isinstance(raw, str):
        return decimal(raw)
    return None


def _float(raw: Any) -> float | None:
    if isinstance(raw, bool):
        return None
    if isinstance(raw, (int, float)):
        value = float(raw)
    elif isinstance(raw, str) and raw.isascii():
        try:
            value = float(raw)
        except ValueError:
            return None
    else:
        return None
    return value if math.isfinite(value) else None


def parse_text(text: str) -> Node:
    if len(text.encode("utf-8", "surrogatepass")) > MAX_BYTES:
        raise QueryError("too_large", f"query text is over {MAX_BYTES} bytes")
    return _TextParser(text).query()


# --- JSON form -------------------------------------------------------------------------------

_JSON_MODIFIERS = {"optional_hits": "optional-hits", "optional-hits": "optional-hits",
                   "optional_weight": "optional-weight", "optional-weight": "optional-weight"}


def parse_json(query: dict) -> Node:
    if len(orjson.dumps(query)) > MAX_BYTES:
        raise QueryError("too_large", f"query is over {MAX_BYTES} bytes")
    return _json(query, "$", 1, _Limits())


def _json(obj: Any, path: str, depth: int, limits: _Limits) -> Node:
    if not isinstance(obj, dict):
        raise bad_query(f"expected a query object, got {type(obj).__name__}", path)
    limits.enter(depth, path)
    keys = [k for k in obj if k not in _JSON_MODIFIERS]
    named = {name: op for op in operators.REGISTRY.values() for name in (op.name, op.name.replace("-", "_"))}
    ops = [k for k in keys if k in named]
    if len(ops) != 1:
        raise bad_query(f"expected exactly one operator key ({_names('_')}), got {sorted(keys)}", path)
    key = ops[0]
    op = named[key]
    allowed = {key, "query"} if op.syntax == "prefix" else {key}
    extra = sorted(set(keys) - allowed)
    if extra:
        raise bad_query(f"unexpected keys {extra}", path)
    arg, at = obj[key], f"{path}.{key}"
    if op.syntax == "term":
        node = _json_term(op, arg, at)
    elif op.syntax == "prefix":
        if not isinstance(arg, str) or not arg.rstrip(":") or ":" in arg.rstrip(":"):
            raise bad_query(f"expected a prefix such as 'owner:', got {arg!r}", at)
        if "query" not in obj:
            raise bad_query(f"'{key}' needs a 'query'", path)
        limits.operand(f"{path}.query")
        inner = _json(obj["query"], f"{path}.query", depth + 1, limits)
        node = op.node(path, arg.rstrip(":"), inner)
    else:
        if not isinstance(arg, list) or not arg:
            raise bad_query(f"'{key}' needs a non-empty list of queries", at)
        operands = []
        for i, item in enumerate(arg):
            limits.operand(f"{at}[{i}]")
            operands.append(_json(item, f"{at}[{i}]", depth + 1, limits))
        _arity(op, operands, at)
        node = op.node(path, operands)
    for key in obj:
        if key in _JSON_MODIFIERS:
            _set_modifier(node, _JSON_MODIFIERS[key], obj[key], f"{path}.{key}", f"{path}.{key}")
    return node


def _json_term(op: Operator, arg: Any, path: str) -> Node:
    if not isinstance(arg, str) or ":" not in arg:
        raise bad_query(f"expected 'PREFIX:VALUE', got {arg!r}", path)
    prefix, value = arg.split(":", 1)
    if not prefix:
        raise bad_query("missing prefix before ':'", path)
    if not value:
        raise bad_query(f"missing value after '{prefix}:'", path)
    return op.node(path, prefix, value)
