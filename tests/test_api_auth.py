"""SPEC §6 signed viewers, the demo's login, and the HTTP edges of issue 10 item 10.

With a viewer secret, a search key's viewer is the `sub` of a signed `X-Viewer-Token`: every way
a token can be wrong is 401 on every viewer-taking endpoint, and a valid one decides what the
request may see. The demo login hands out the demo's search key and such a token. The chunked
413 is tested on a real uvicorn server over a raw socket.
"""

from __future__ import annotations

import os
import re
import socket
import sys
import time
from pathlib import Path

import jwt
import orjson
import pytest
from starlette.testclient import TestClient

from api import create_app
from api.auth import ViewerTokens, keys_from_env, parse_keys
from api.models import ID_PATTERN
from firehose.events import validate
from tests.indexed import indexed
from tests.test_api_endpoints import ADMIN, AS_ADMIN, AS_SEARCH, KEYS, MEDIA, SEARCH, error
from tests.processes import started, wait_for_line
from tests.test_demo import SERVING
from tests.test_typeahead_behaviour import HISTORY

SECRET = "s" * 64  # long enough for HS512 too (the wrong-algorithm case)
MAX_ID = 2**64 - 1


def token(sub="1", exp_in: float = 600, secret: str = SECRET, algorithm: str = "HS256", **claims) -> str:
    payload = {"sub": sub, "exp": int(time.time() + exp_in), **claims}
    return jwt.encode({k: v for k, v in payload.items() if v is not None}, secret, algorithm=algorithm)


def unsigned(sub: str = "1") -> str:
    """A token with alg "none" and no signature, as an attacker would send it."""
    return jwt.encode({"sub": sub, "exp": int(time.time() + 600)}, None, algorithm="none")


@pytest.fixture(scope="module")
def index():
    with indexed([validate(e) for e in HISTORY + MEDIA]) as (index, _):
        yield index


@pytest.fixture(scope="module")
def signed(index):
    """The API with a viewer secret and the demo login (handing out the search key)."""
    with TestClient(create_app(index=index, keys=KEYS, timeout_ms=60_000, viewer_secret=SECRET,
                               demo_key=SEARCH)) as client:
        yield client


# The three viewer-taking endpoints, each a request with optional viewer parameter and headers.
ENDPOINTS = {
    "typeahead": lambda c, viewer, headers: c.get(
        "/v1/typeahead", params={"q": "jo", **({} if viewer is None else {"viewer": viewer})}, headers=headers),
    "search": lambda c, viewer, headers: c.post(
        "/v1/search", json={"vertical": "user", "query": "(term name:jo)", **({} if viewer is None else {"viewer": viewer})},
        headers=headers),
    "documents": lambda c, viewer, headers: c.get(
        "/v1/documents/user/2", params={} if viewer is None else {"viewer": viewer}, headers=headers),
}

BAD_TOKENS = {
    "expired": lambda: token(exp_in=-5),
    "forged signature": lambda: token(secret="t" * 64),
    "alg none": lambda: unsigned(),
    "alg HS512": lambda: token(algorithm="HS512"),
    "tampered sub": lambda: ".".join(p if i != 1 else jwt.utils.base64url_encode(
        orjson.dumps({"sub": "7", "exp": int(time.time() + 600)})).decode() for i, p in enumerate(token().split("."))),
    "sub not an id": lambda: token(sub="vera"),
    "sub negative": lambda: token(sub="-1"),
    "sub past 2^64 - 1": lambda: token(sub=str(MAX_ID + 1)),
    "sub of 5,000 digits": lambda: token(sub="9" * 5000),
    "sub an integer": lambda: token(sub=1),
    "no sub": lambda: token(sub=None),
    "no exp": lambda: jwt.encode({"sub": "1"}, SECRET, algorithm="HS256"),
    "not yet valid": lambda: token(nbf=int(time.time() + 600)),
    "not a JWT": lambda: "not-a-token",
    "empty": lambda: "",
}


@pytest.mark.parametrize("endpoint", ENDPOINTS)
@pytest.mark.parametrize("case", BAD_TOKENS)
def test_a_bad_viewer_token_is_unauthorized(signed, endpoint, case):
    headers = {**AS_SEARCH, "X-Viewer-Token": BAD_TOKENS[case]()}
    error(ENDPOINTS[endpoint](signed, None, headers), 401, "unauthorized")
    error(ENDPOINTS[endpoint](signed, None, {**AS_ADMIN, "X-Viewer-Token": headers["X-Viewer-Token"]}),
          401, "unauthorized")  # an admin key's token is verified too


@pytest.mark.parametrize("endpoint", ENDPOINTS)
def test_a_search_key_without_a_token_is_unauthorized(signed, endpoint):
    for viewer in (None, "1"):  # a bare viewer parameter is no longer believed
        message = error(ENDPOINTS[endpoint](signed, viewer, AS_SEARCH), 401, "unauthorized")
        assert "X-Viewer-Token" in message


@pytest.mark.parametrize("endpoint", ENDPOINTS)
def test_a_viewer_parameter_must_match_the_token(signed, endpoint):
    headers = {**AS_SEARCH, "X-Viewer-Token": token(sub="1")}
    error(ENDPOINTS[endpoint](signed, "2", headers), 401, "unauthorized")
    error(ENDPOINTS[endpoint](signed, "2", {**AS_ADMIN, "X-Viewer-Token": token(sub="1")}), 401, "unauthorized")
    assert ENDPOINTS[endpoint](signed, "1", headers).status_code == 200
    assert ENDPOINTS[endpoint](signed, "0001", headers).status_code == 200  # the same id, written otherwise
    assert ENDPOINTS[endpoint](signed, None, headers).status_code == 200


def test_a_valid_token_decides_what_the_viewer_sees(signed):
    as_ = lambda viewer: {**AS_SEARCH, "X-Viewer-Token": token(sub=str(viewer))}
    # typeahead: social context is the token's viewer's
    results = signed.get("/v1/typeahead", params={"q": "jo", "limit": 4, "verticals": "user"}, headers=as_(1)).json()["results"]
    assert [r["id"] for r in results] == ["21", "2", "3", "7"] and results[2]["social"]["followed_by_count"] == 4
    # search: jo.blocked is hidden from user 1, not from user 2
    query = {"vertical": "user", "query": "(term name:jo)"}
    assert signed.post("/v1/search", json=query, headers=as_(1)).json()["total"] == 7
    assert signed.post("/v1/search", json=query, headers=as_(2)).json()["total"] == 8
    assert signed.post("/v1/search", json={**query, "order": "social"}, headers=as_(1)).status_code == 200
    # documents: a private account's media is seen by its owner only
    assert signed.get("/v1/documents/media/500", headers=as_(24)).status_code == 200
    error(signed.get("/v1/documents/media/500", headers=as_(1)), 404, "not_found")


def test_an_admin_key_may_omit_the_token_or_bind_itself_to_one(signed):
    assert signed.get("/v1/documents/media/500", headers=AS_ADMIN).status_code == 200  # no viewer: sees all
    assert signed.get("/v1/documents/media/500", params={"viewer": 24}, headers=AS_ADMIN).status_code == 200
    error(signed.get("/v1/documents/media/500", params={"viewer": 1}, headers=AS_ADMIN), 404, "not_found")
    error(signed.get("/v1/documents/media/500", headers={**AS_ADMIN, "X-Viewer-Token": token(sub="1")}),
          404, "not_found")


def test_without_a_secret_the_viewer_parameter_is_the_viewer(index):
    with TestClient(create_app(index=index, keys=KEYS, timeout_ms=60_000)) as client:
        assert client.get("/v1/documents/media/500", params={"viewer": 24}, headers=AS_SEARCH).status_code == 200
        # a token is not looked at: there is no secret to check it with
        got = client.get("/v1/documents/media/500", params={"viewer": 24},
                         headers={**AS_SEARCH, "X-Viewer-Token": token(sub="1", secret="x" * 40)})
        assert got.status_code == 200
        error(client.get("/v1/documents/media/500", headers={**AS_SEARCH, "X-Viewer-Token": token(sub="24")}),
              403, "forbidden")
        error(client.get("/v1/demo/users"), 404, "not_found")


def test_a_weak_secret_or_a_demo_login_without_one_is_refused_at_startup(index):
    with pytest.raises(ValueError, match="at least 32 bytes"):
        create_app(index=index, keys=KEYS, viewer_secret="short")
    with pytest.raises(ValueError, match="viewer secret"):
        create_app(index=index, keys=KEYS, demo_key=SEARCH)
    with pytest.raises(ValueError, match="search key"):
        create_app(index=index, keys=KEYS, viewer_secret=SECRET, demo_key=ADMIN)


# the demo login

def test_demo_personas_and_login(signed):
    users = signed.get("/v1/demo/users").json()["users"]
    assert users[0] == {"id": "1", "username": "vera", "full_name": "Vera Viewer", "following_count": 5}
    assert [u["following_count"] for u in users] == sorted((u["following_count"] for u in users), reverse=True)
    login = signed.post("/v1/demo/login", json={"username": "Vera"})
    assert login.status_code == 200
    session = login.json()
    assert set(session) == {"token", "key", "viewer", "username", "expires"}
    assert (session["key"], session["viewer"], session["username"]) == (SEARCH, "1", "vera")
    assert ViewerTokens(SECRET).viewer(session["token"]) == 1
    assert 0 < session["expires"] - time.time() <= 3600
    headers = {"Authorization": f"Bearer {session['key']}", "X-Viewer-Token": session["token"]}
    results = signed.get("/v1/typeahead", params={"q": "jo.m"}, headers=headers).json()["results"]
    assert results[0]["title"] == "jo.mutual" and results[0]["social"]["followed_by_count"] == 4


@pytest.mark.parametrize("body", [b"{}", b'{"username": ""}', b'{"username": 1}', b'["vera"]', b"vera",
                                  b'{"username": "vera", "viewer": 2}', b'{"username": "' + b"v" * 101 + b'"}'])
def test_demo_login_bad_request(signed, body):
    error(signed.post("/v1/demo/login", content=body), 400, "bad_request")


def test_demo_login_of_no_such_user(signed):
    assert error(signed.post("/v1/demo/login", json={"username": "nobody"}), 404, "not_found") == "no such user"


# item 10: routes, methods, key entries, bodies, the OpenAPI document

def test_unknown_route_is_a_404_naming_it_and_405_says_what_is_allowed(signed):
    assert error(signed.get("/v2/nothing", headers=AS_ADMIN), 404, "not_found") == "no route GET /v2/nothing"
    assert error(signed.delete("/v1/typeahead/x"), 404, "not_found") == "no route DELETE /v1/typeahead/x"
    assert error(signed.get("/static/nothing.js"), 404, "not_found") == "no such file /static/nothing.js"
    got = signed.get("/v1/search", headers=AS_ADMIN)
    error(got, 405, "method_not_allowed")
    assert got.headers["allow"] == "POST"
    got = signed.post("/healthz")
    error(got, 405, "method_not_allowed")
    assert set(got.headers["allow"].split(", ")) == {"GET", "HEAD"}
    assert signed.get("/v1/demo/login").headers["allow"] == "POST"


@pytest.mark.parametrize(("spec", "entry"), [("topsecretkey", 1), ("k1:admin,hunter2hunter2:root", 2),
                                              ("k1:admin,,\n:search", 4), ("k1:admin\nsupersecret\n", 2)])
def test_a_malformed_key_entry_is_named_by_number_without_its_text(spec, entry):
    with pytest.raises(ValueError) as raised:
        parse_keys(spec)
    message = str(raised.value)
    assert f"entry {entry} is malformed" in message and "UNICORN_API_KEYS" in message
    for secret in ("topsecretkey", "hunter2hunter2", "supersecret", "root"):
        assert secret[:3] not in message


def test_a_malformed_entry_in_the_keys_file_names_the_file(tmp_path):
    keys_file = tmp_path / "keys"
    keys_file.write_text("# ops\nk:admin\nmy-secret-key\n")
    with pytest.raises(ValueError, match=f"UNICORN_API_KEYS_FILE {re.escape(str(keys_file))}: entry 3") as raised:
        keys_from_env({"UNICORN_API_KEYS_FILE": str(keys_file)})
    assert "my-" not in str(raised.value)


@pytest.fixture
def real_server(tmp_path):
    env = {**os.environ, "UNICORN_API_KEYS": f"{ADMIN}:admin"}
    log = tmp_path / "server.log"
    with started([sys.executable, "-c", f"import api; api.serve({str(tmp_path / 'data')!r}, host='127.0.0.1', port=0)"],
                 log, env=env, cwd=Path(__file__).resolve().parent.parent) as process:
        yield int(wait_for_line(log, SERVING, process, 120).group(1))


@pytest.mark.parametrize("framing", ["chunked", "content-length"])
def test_a_body_over_the_limit_is_answered_413_not_reset(real_server, framing):
    """32 MiB, far more than the kernel buffers between client and server, on a connection the client
    asks to close: a server that answered early and closed would reset it while the client is sending."""
    piece, pieces = b" " * 65536, 512
    with socket.create_connection(("127.0.0.1", real_server), timeout=60) as conn:
        framing_header = (b"Transfer-Encoding: chunked" if framing == "chunked"
                          else b"Content-Length: %d" % (len(piece) * pieces))
        conn.sendall(b"POST /v1/search HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer " + ADMIN.encode() +
                     b"\r\nContent-Type: application/json\r\nConnection: close\r\n" + framing_header + b"\r\n\r\n")
        for _ in range(pieces):
            conn.sendall(b"%x\r\n%s\r\n" % (len(piece), piece) if framing == "chunked" else piece)
        if framing == "chunked":
            conn.sendall(b"0\r\n\r\n")
        answer = b""
        while chunk := conn.recv(65536):
            answer += chunk
    head, _, body = answer.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 413 "), answer[:200]
    assert orjson.loads(body)["error"]["code"] == "too_large"


def test_openapi_ids_are_exactly_the_ids_the_server_accepts(signed):
    pattern = re.compile(ID_PATTERN)
    for raw in ["0", "7", "0007", "1" * 19, str(MAX_ID), "0" + str(MAX_ID), str(MAX_ID + 1), "9" * 20,
                "18446744073709551616", "18446744073709551609", "-1", "1.0", "1e3", "abc", "٣", ""]:
        accepted = signed.get("/v1/typeahead", params={"q": "jo", "viewer": raw}, headers=AS_ADMIN).status_code != 400
        assert bool(pattern.match(raw)) == accepted, raw
    served = signed.get("/openapi.json").json()
    schema = served["components"]["schemas"]["SearchRequest"]["properties"]
    assert schema["viewer"]["oneOf"][0]["maximum"] == MAX_ID and schema["viewer"]["oneOf"][1]["pattern"] == ID_PATTERN
    paths = served["paths"]
    assert {p for p in paths if p.startswith("/v1/documents/")} == {
        f"/v1/documents/{v}/{{id}}" for v in ("user", "media", "hashtag", "place")}
    assert paths["/v1/documents/user/{id}"]["get"]["parameters"][0]["schema"]["pattern"] == ID_PATTERN


def test_openapi_verticals_are_exactly_the_verticals_the_server_accepts(signed):
    served = signed.get("/openapi.json").json()
    params = {p["name"]: p for p in served["paths"]["/v1/typeahead"]["get"]["parameters"]}
    pattern = re.compile(params["verticals"]["schema"]["pattern"])
    for raw in ["user", "user,hashtag,place", "place,user", "user,user", "user, hashtag", "user,", ",user", "",
                "media", "user,media", "USER", " user"]:
        accepted = signed.get("/v1/typeahead", params={"q": "jo", "verticals": raw}, headers=AS_ADMIN).status_code == 200
        assert bool(pattern.match(raw)) == accepted, raw
    assert params["limit"]["schema"]["maximum"] == 50 and params["q"]["schema"]["maxLength"] == 200


def test_openapi_describes_the_viewer_token_and_the_demo_login(signed, index):
    served = signed.get("/openapi.json").json()
    scheme = served["components"]["securitySchemes"]["viewerToken"]
    assert (scheme["type"], scheme["in"], scheme["name"]) == ("apiKey", "header", "X-Viewer-Token")
    for path in ("/v1/typeahead", "/v1/documents/user/{id}"):
        assert {"bearer": [], "viewerToken": []} in served["paths"][path]["get"]["security"]
    assert {"bearer": [], "viewerToken": []} in served["paths"]["/v1/search"]["post"]["security"]
    with TestClient(create_app(index=index, keys=KEYS)) as without_demo:
        assert "/v1/demo/login" not in without_demo.get("/openapi.json").json()["paths"]
    assert "post" in served["paths"]["/v1/demo/login"]
