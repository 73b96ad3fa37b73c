"""The reference docs' examples run: every `unicorn-query` block in docs/*.md is evaluated against
docs/examples/platform.jsonl (ingested through the real firehose validation and Slipstream), and
the `Results:` or `Error:` line that follows it must be what the engine answers."""

from __future__ import annotations

import re
from pathlib import Path

import orjson
import pytest

from firehose.events import validate
from slipstream import Slipstream
from unicorn.engine import Engine
from unicorn.errors import QueryError
from unicorn.store import Index

DOCS = Path(__file__).resolve().parent.parent / "docs"
BLOCK = re.compile(r"```unicorn-query(?P<attrs>[^\n]*)\n(?P<query>.*?)```\n(?P<expect>[^\n]*)", re.S)


def examples() -> list:
    found = []
    for page in sorted(DOCS.glob("*.md")):
        text = page.read_text()
        for match in BLOCK.finditer(text):
            line = text.count("\n", 0, match.start()) + 1
            attrs = dict(pair.split("=", 1) for pair in match["attrs"].split())
            found.append(pytest.param(attrs, match["query"].strip(), match["expect"].strip(), id=f"{page.name}:{line}"))
    return found


@pytest.fixture(scope="module")
def engine(tmp_path_factory):
    index = Index(tmp_path_factory.mktemp("docs-index"))
    with index.writer() as batch:
        slip = Slipstream(batch)
        for line in (DOCS / "examples" / "platform.jsonl").read_text().splitlines():
            slip.apply(validate(orjson.loads(line)))
    yield Engine(index)
    index.close()


def test_the_docs_have_examples():
    assert len(examples()) >= 20


@pytest.mark.parametrize("attrs, query, expect", examples())
def test_doc_example(engine, attrs, query, expect):
    kind, _, wanted = expect.partition(":")
    args = {"viewer": attrs.get("viewer"), "limit": int(attrs.get("limit", 20))}
    if kind == "Error":
        with pytest.raises(QueryError) as raised:
            engine.search(attrs["vertical"], query, **args)
        assert raised.value.code == wanted.strip()
        return
    assert kind == "Results", f"an example must be followed by 'Results:' or 'Error:', got {expect!r}"
    result = engine.search(attrs["vertical"], query, **args)
    expected = [] if wanted.strip() == "none" else [item.strip() for item in wanted.split(",")]
    assert [r["id"] for r in result.results] == expected
