"""The reference docs' examples run against docs/examples/platform.jsonl, ingested through the
real firehose validation and Slipstream:

- every `unicorn-query` block in docs/*.md is evaluated, and the `Results:` or `Error:` line that
  follows it must be what the engine answers;
- every `http-example` block (a request line, headers, a blank line and a body) is sent to the
  real ASGI app, and the `Answer (STATUS):` JSON that follows must be contained in the response
  (objects: the documented keys, recursively; lists: the same length, item by item).
"""

from __future__ import annotations

import re
from pathlib import Path

import orjson
import pytest
from starlette.testclient import TestClient

from api.app import create_app
from firehose.events import validate
from indexer.store import Index
from slipstream import Slipstream
from unicorn.engine import Engine
from unicorn.errors import QueryError

DOCS = Path(__file__).resolve().parent.parent / "docs"
BLOCK = re.compile(r"```unicorn-query(?P<attrs>[^\n]*)\n(?P<query>.*?)```\n(?P<expect>[^\n]*)", re.S)
HTTP = re.compile(r"```http-example\n(?P<request>.*?)```\nAnswer \((?P<status>\d+)\):\n```json\n(?P<body>.*?)```", re.S)
KEYS = {"ADMIN_KEY": "docs-admin-key", "SEARCH_KEY": "docs-search-key"}


def _blocks(pattern: re.Pattern) -> list[tuple[str, re.Match]]:
    found = []
    for page in sorted(DOCS.glob("*.md")):
        text = page.read_text()
        for match in pattern.finditer(text):
            found.append((f"{page.name}:{text.count(chr(10), 0, match.start()) + 1}", match))
    return found


def examples() -> list:
    return [pytest.param(dict(pair.split("=", 1) for pair in m["attrs"].split()), m["query"].strip(),
                         m["expect"].strip(), id=where) for where, m in _blocks(BLOCK)]


def http_examples() -> list:
    return [pytest.param(m["request"], int(m["status"]), orjson.loads(m["body"]), id=where)
            for where, m in _blocks(HTTP)]


def example_index(path) -> Index:
    """An index at `path` of docs/examples/platform.jsonl, through firehose validation and Slipstream."""
    index = Index(path)
    with index.writer() as batch:
        slip = Slipstream(batch)
        for line in (DOCS / "examples" / "platform.jsonl").read_text().splitlines():
            slip.apply(validate(orjson.loads(line)))
    return index


@pytest.fixture(scope="module")
def index(tmp_path_factory):
    index = example_index(tmp_path_factory.mktemp("docs-index"))
    yield index
    index.close()


@pytest.fixture(scope="module")
def engine(index):
    return Engine(index)


@pytest.fixture(scope="module")
def client(index):
    app = create_app(index=index, keys={KEYS["ADMIN_KEY"]: "admin", KEYS["SEARCH_KEY"]: "search"}, timeout_ms=10_000)
    with TestClient(app) as client:
        yield client


def test_the_docs_have_examples():
    assert len(examples()) >= 20 and len(http_examples()) >= 10


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


def contains(actual, documented) -> bool:
    if isinstance(documented, dict):
        return isinstance(actual, dict) and all(k in actual and contains(actual[k], v) for k, v in documented.items())
    if isinstance(documented, list):
        return (isinstance(actual, list) and len(actual) == len(documented)
                and all(contains(a, d) for a, d in zip(actual, documented)))
    return actual == documented


@pytest.mark.parametrize("request_text, status, documented", http_examples())
def test_http_example(client, request_text, status, documented):
    head, _, body = request_text.partition("\n\n")
    request_line, *header_lines = head.strip().splitlines()
    method, path = request_line.split()
    headers = {}
    for line in header_lines:
        name, _, value = line.partition(":")
        for var, key in KEYS.items():
            value = value.replace(f"${var}", key)
        headers[name.strip()] = value.strip()
    response = client.request(method, path, headers=headers, content=body.strip().encode() or None)
    assert response.status_code == status, response.text
    assert contains(response.json(), documented), response.text


def test_the_repository_cites_its_own_docs_only():
    """A clone has no ../shared: nothing outside the tests sends a reader to the contract's sections."""
    root = DOCS.parent
    product = [root / "README.md", root / "ARCHITECTURE.md", *DOCS.glob("*.md"),
               *(p for package in ("vocabulary", "firehose", "slipstream", "trending", "indexer", "unicorn", "api",
                                   "bench", "console", "unicorn_client") for p in (root / package).rglob("*")
                 if p.suffix in (".py", ".md", ".js", ".html"))]
    citing = [str(p.relative_to(root)) for p in product if re.search(r"SPEC ?§|SPEC\.md|\.\./shared", p.read_text())]
    assert not citing
