"""Graph inspection over HTTP, and the two browser pages. A real uvicorn on the shared corpus
workspace (the sample manuals, read only), the real embedder and model."""

from __future__ import annotations

import base64
import json
import os
import re
import shutil
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import quote

import httpx
import pytest
from pydantic import SecretStr

from serving.answering.answer import GeneratorPool
from serving.api.app import create_app
from serving.api.pages import STATIC
from tests.helpers import AUTH, KEY, ROOT, running, with_


@pytest.fixture(scope="module")
def corpus_api(corpus) -> Iterator[str]:
    settings = with_(corpus.settings, api_keys=[SecretStr(KEY)])
    app = create_app(settings, generators=GeneratorPool(settings), embedder=corpus.embedder)
    with running(app) as url:
        yield url


@pytest.fixture(scope="module")
def http(corpus_api) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=corpus_api, headers=AUTH, timeout=120) as client:
        yield client


def search(http: httpx.Client, q: str, **params) -> list[dict]:
    r = http.get("/v1/graph/entities", params={"q": q, **params})
    assert r.status_code == 200, r.text
    return r.json()["entities"]


def test_search_finds_parts_however_spelled_and_equipment(http):
    for spelling in ("WP-2207-A", "wp2207a", "wp 2207 a", "Wp-2207-A"):
        found = search(http, spelling)
        assert found and found[0]["id"] == "Part:WP2207A", (spelling, found[:3])
        assert found[0]["name"] == "WP-2207-A" and found[0]["properties"]["nsn"]
    assert {e["id"] for e in search(http, "wp-2207")} >= {"Part:WP2207A", "Part:WP2207B"}
    assert search(http, "p-200")[0]["id"] == "Equipment:P200"
    by_name = search(http, "IMPELLER NUT", label=["Component"])
    assert by_name and all(e["label"] == "Component" for e in by_name)
    assert any(e["name"] == "impeller nut" for e in by_name)
    assert len(search(http, "a", limit=3)) == 3
    assert search(http, "no-such-thing-xyz") == []
    bad = http.get("/v1/graph/entities", params={"q": "x", "label": "Chunk"})
    assert bad.status_code == 422 and bad.json()["error"]["code"] == "invalid_label"


def test_entity_with_neighbours_and_sources(http, corpus):
    r = http.get("/v1/graph/entities/Part:WP2207A")
    assert r.status_code == 200, r.text
    part = r.json()
    assert part["label"] == "Part" and part["properties"]["part_number"] == "WP-2207-A"
    assert part["sources"] and all(s["page_start"] and s["document"] for s in part["sources"])
    rels = {(n["relation"], n["direction"], n["entity"]["id"]): n for n in part["neighbours"]}
    superseded = rels[("SUPERSEDED_BY", "out", "Part:WP2207B")]
    assert superseded["entity"]["name"] == "WP-2207-B" and superseded["sources"]
    assert len(superseded["relation_properties"]["documents"]) == 2  # manual and bulletin
    has_part = rels[("HAS_PART", "in", "Equipment:P200")]
    assert has_part["relation_properties"]["qty"] == "1" and has_part["entity"]["name"] == "P-200"
    users = [n for n in part["neighbours"] if n["relation"] == "USES_PART"]
    assert {n["entity"]["label"] for n in users} == {"Procedure", "Step"}
    assert all(n["direction"] == "in" and n["sources"][0]["page_start"] for n in users)
    assert not any(n["relation"] in ("MENTIONED_IN", "PART_OF") for n in part["neighbours"])
    # What the graph holds, straight from the store, agrees.
    count = corpus.graph.run(
        "MATCH (p:Part {key: 'WP2207A'})-[r]-(m) WHERE NOT type(r) IN ['MENTIONED_IN'] "
        "RETURN count(r) AS n"
    )[0]["n"]
    assert len(part["neighbours"]) == count and not part["truncated"]

    # Keys with a slash, encoded or not; the neighbours of a procedure are its steps.
    for path in ("Component:P200/impeller-nut", quote("Component:P200/impeller-nut", safe="")):
        comp = http.get(f"/v1/graph/entities/{path}")
        assert comp.status_code == 200 and comp.json()["name"] == "impeller nut"
    equipment = http.get("/v1/graph/entities/Equipment:P200", params={"limit": 5}).json()
    assert equipment["truncated"] and len(equipment["neighbours"]) <= 10

    for missing in ("Part:NOPE", "Chunk:x", "WP2207A", "Part:"):
        r = http.get(f"/v1/graph/entities/{missing}")
        assert r.status_code == 404 and r.json()["error"]["code"] == "entity_not_found"


def test_graph_endpoints_need_the_key(corpus_api):
    assert httpx.get(f"{corpus_api}/v1/graph/entities", params={"q": "x"}).status_code == 401
    assert httpx.get(f"{corpus_api}/v1/graph/entities/Part:WP2207A").status_code == 401
    paths = set(httpx.get(f"{corpus_api}/openapi.json").json()["paths"])
    assert {
        "/v1/documents",
        "/v1/documents/{doc_id}",
        "/v1/jobs/{job_id}",
        "/v1/chunks/{chunk_id}",
        "/v1/graph/entities",
        "/v1/graph/entities/{entity_id}",
    } <= paths
    assert not {"/", "/graph"} & paths  # pages, not API


# -- the pages ----------------------------------------------------------------------------

_REFERENCE = re.compile(r"""(?:src|href)\s*=\s*["']([^"']+)["']""", re.I)
_URL = re.compile(r"""[a-z][a-z0-9+.-]*://[^\s"'`)]*|//[a-z0-9.-]+\.[a-z]{2,}""", re.I)


def test_pages_load_only_local_assets(corpus_api):
    for path, script in (("/", "/static/chat.js"), ("/graph", "/static/graph.js")):
        page = httpx.get(f"{corpus_api}{path}")  # no key: the page holds no data
        assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
        csp = page.headers["content-security-policy"]
        assert "default-src 'self'" in csp and "connect-src 'self'" in csp
        refs = _REFERENCE.findall(page.text)
        assert script in refs and "/static/style.css" in refs
        for ref in refs:
            assert ref.startswith("/") and not ref.startswith("//"), ref
            if ref.startswith("/static/"):
                asset = httpx.get(f"{corpus_api}{ref}")
                assert asset.status_code == 200 and asset.text, ref
    # No asset names another host: the only URL is SVG's namespace name (never fetched).
    for asset in STATIC.iterdir():
        urls = set(_URL.findall(asset.read_text()))
        assert urls <= {"http://www.w3.org/2000/svg"}, (asset.name, urls)
    chat = (STATIC / "chat.js").read_text()
    assert "/v1/chat/completions" in chat and "getReader" in chat and "/v1/chunks/" in chat
    assert "localStorage" in (STATIC / "common.js").read_text()
    assert "/v1/graph/entities" in (STATIC / "graph.js").read_text()
    assert httpx.get(f"{corpus_api}/static/../app.py").status_code == 404


# -- the pages in a real browser (where Debian's chromium is installed) --------------------

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")


class Chromium:
    """Headless Chromium driven over the DevTools protocol on a pipe (``--remote-debugging-
    pipe``: JSON messages ending in NUL on fds 3 and 4), so no driver package is needed."""

    def __init__(self) -> None:
        self._in, to_browser = os.pipe()
        from_browser, self._out = os.pipe()

        def fds() -> None:  # in the child: the browser reads fd 3 and writes fd 4
            os.dup2(self._in, 3)
            os.dup2(self._out, 4)

        self.proc = subprocess.Popen(
            [
                CHROMIUM,
                "--headless",
                "--no-sandbox",
                "--disable-gpu",
                "--window-size=1200,900",
                "--remote-debugging-pipe",
                "about:blank",
            ],
            pass_fds=(3, 4, self._in, self._out),
            preexec_fn=fds,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        os.close(self._in)
        os.close(self._out)
        self.send_fd, self.recv = to_browser, os.fdopen(from_browser, "rb")
        self.next_id = 0
        target = next(
            t for t in self.call("Target.getTargets")["targetInfos"] if t["type"] == "page"
        )
        attached = self.call("Target.attachToTarget", targetId=target["targetId"], flatten=True)
        self.session = attached["sessionId"]

    def call(self, method: str, session: str | None = None, **params) -> dict:
        self.next_id += 1
        message = {"id": self.next_id, "method": method, "params": params}
        if session:
            message["sessionId"] = session
        os.write(self.send_fd, json.dumps(message).encode() + b"\0")
        buffer = b""
        while True:
            byte = self.recv.read(1)
            assert byte, "chromium closed the pipe"
            if byte != b"\0":
                buffer += byte
                continue
            reply, buffer = json.loads(buffer), b""
            if reply.get("id") == self.next_id:
                assert "error" not in reply, reply
                return reply["result"]

    def page(self, method: str, **params) -> dict:
        return self.call(method, self.session, **params)

    def js(self, expression: str):
        result = self.page("Runtime.evaluate", expression=expression, returnByValue=True)
        return result["result"].get("value")

    def wait_for(self, expression: str, timeout_s: float = 300):
        deadline = time.monotonic() + timeout_s
        while not (value := self.js(expression)):
            assert time.monotonic() < deadline, f"timed out waiting for {expression}"
            time.sleep(0.25)
        return value

    def screenshot(self, path: Path) -> None:
        path.write_bytes(base64.b64decode(self.page("Page.captureScreenshot")["data"]))

    def close(self) -> None:
        self.proc.terminate()
        self.proc.wait(30)
        os.close(self.send_fd)
        self.recv.close()


@pytest.fixture(scope="module")
def open_api(corpus) -> Iterator[str]:
    """No keys (loopback): the browser needs no key prompt answered."""
    settings = with_(corpus.settings, api_keys=[])
    app = create_app(settings, generators=GeneratorPool(settings), embedder=corpus.embedder)
    with running(app) as url:
        yield url


@pytest.mark.skipif(CHROMIUM is None, reason="no chromium (Debian package) on this machine")
def test_pages_in_headless_chromium(open_api):
    """Screenshots are kept as artifacts in test-artifacts/ (gitignored) for a human to look at."""
    shots = ROOT / "test-artifacts"
    shots.mkdir(exist_ok=True)
    browser = Chromium()
    try:
        # The chat page: the answer streams in, citations under it, one opens its chunk.
        question = quote("What torque does the impeller nut on the P-200 get?")
        browser.page("Page.navigate", url=f"{open_api}/?q={question}&mode=rag")
        browser.wait_for("document.getElementById('badges').textContent")
        assert browser.js("document.getElementById('answer').textContent.trim()")
        assert "rag · " in browser.js("document.getElementById('badges').textContent")
        assert browser.js("document.querySelectorAll('#citations li').length") >= 1
        browser.js("document.querySelector('#citations button').click()")
        text = browser.wait_for("document.getElementById('chunk-text').textContent")
        assert "P-200" in text or "impeller" in text.lower()
        assert browser.js("document.getElementById('error').textContent") == ""
        browser.screenshot(shots / "chat.png")

        # The graph page: the best match drawn; a click on a neighbour draws that one.
        browser.page("Page.navigate", url=f"{open_api}/graph?q=WP-2207-A")
        browser.wait_for("document.querySelectorAll('#graph circle').length >= 5")
        assert browser.js("document.querySelector('#details h3').textContent") == "WP-2207-A"
        browser.js(
            "const c = [...document.querySelectorAll('#graph circle')]"
            ".find((x) => x.textContent.includes('WP-2207-B'));"
            "c.dispatchEvent(new PointerEvent('pointerdown', {bubbles: true}));"
            "window.dispatchEvent(new PointerEvent('pointerup'));"
        )
        browser.wait_for("document.querySelector('#details h3').textContent === 'WP-2207-B'")
        browser.screenshot(shots / "graph.png")
    finally:
        browser.close()
    assert (shots / "chat.png").stat().st_size > 10_000
    assert (shots / "graph.png").stat().st_size > 10_000
    print(f"screenshots: {shots}")
