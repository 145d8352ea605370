"""Manuals over HTTP: upload (a background ingestion job), follow the job, list, show and
delete documents, read a chunk; upload limits and file names. A real uvicorn on the scratch
workspace's embedded stores (wiped per test), the real embedder and model."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from pydantic import SecretStr

from infra.embedded import EmbeddedFalkorDB
from serving.answering.answer import GeneratorPool
from serving.api.app import create_app
from tests.helpers import AUTH, GEARBOX, KEY, SAMPLES, running, with_

BULLETIN = SAMPLES / "sb-2024-07-p200-impeller.txt"
CORRUPT = b"%PDF-1.4\n1 0 obj << /Type /Catalog >> truncated here"
MAX_FILE_MB = 0.2  # 200 KB a file: the samples fit, a test can send one that does not


def part(name: str, data: bytes, content_type: str = "application/octet-stream") -> tuple:
    return ("files", (name, data, content_type))


def sample(path: Path) -> tuple:
    return part(path.name, path.read_bytes())


def wait_for(http: httpx.Client, job_id: str, timeout_s: float = 600) -> dict:
    deadline = time.monotonic() + timeout_s
    while True:
        job = http.get(f"/v1/jobs/{job_id}")
        assert job.status_code == 200, job.text
        if job.json()["status"] in ("done", "failed"):
            return job.json()
        assert time.monotonic() < deadline, job.json()
        time.sleep(0.2)


@pytest.fixture(scope="module")
def scratch_api(_scratch) -> Iterator[str]:
    settings = with_(
        _scratch.settings,
        api_keys=[SecretStr(KEY)],
        max_request_kb=64,
        max_file_mb=MAX_FILE_MB,
        max_upload_files=4,
        max_upload_mb=1.0,
    )
    pool = GeneratorPool(settings)
    app = create_app(settings, generators=pool, embedder=_scratch.embedder)
    with running(app) as url:
        yield url


@pytest.fixture
def http(scratch, scratch_api) -> Iterator[httpx.Client]:
    """A client of the API on a freshly wiped scratch workspace."""
    with httpx.Client(base_url=scratch_api, headers=AUTH, timeout=600) as client:
        yield client


def test_upload_ingests_good_files_and_reports_the_corrupt_one(http, scratch):
    files = [sample(GEARBOX), part("broken.pdf", CORRUPT, "application/pdf"), sample(BULLETIN)]
    accepted = http.post("/v1/documents", files=files)
    assert accepted.status_code == 202, accepted.text
    job_id = accepted.json()["id"]
    assert accepted.headers["location"] == f"/v1/jobs/{job_id}"
    assert [f["name"] for f in accepted.json()["files"]] == [
        GEARBOX.name,
        "broken.pdf",
        BULLETIN.name,
    ]

    job = wait_for(http, job_id)
    assert job["status"] == "done" and job["error"] is None
    assert job["progress"] == {"done": 3, "total": 3, "current": None}
    by_name = {f["name"]: f for f in job["files"]}
    assert by_name[GEARBOX.name]["status"] == "added"
    assert by_name[BULLETIN.name]["status"] == "added"
    assert all(
        by_name[n]["chunks"] > 0 and by_name[n]["entities"] > 0
        for n in by_name
        if n != "broken.pdf"
    )
    (error,) = job["errors"]
    assert error["name"] == "broken.pdf" and error["status"] == "failed"
    assert "PDF" in error["reason"] and "export it again" in error["hint"]

    # The good ones are stored, from the job's upload folder; the stores agree with the job.
    listed = http.get("/v1/documents").json()["documents"]
    assert {d["id"] for d in listed} == {
        by_name[GEARBOX.name]["document_id"],
        by_name[BULLETIN.name]["document_id"],
    }
    folder = scratch.settings.uploads_dir / job_id
    assert all(Path(d["source_path"]).parent == folder.resolve() for d in listed)
    assert sorted(p.name for p in folder.iterdir()) == sorted(by_name)
    assert {d.id for d in scratch.pg.list_documents()} == {d["id"] for d in listed}
    assert scratch.graph.document_ids() == {d["id"] for d in listed}

    # The same manual again: recognised by its content hash, not ingested twice.
    again = wait_for(http, http.post("/v1/documents", files=[sample(GEARBOX)]).json()["id"])
    assert [f["status"] for f in again["files"]] == ["unchanged"]
    assert len(http.get("/v1/documents").json()["documents"]) == 2


def test_list_show_delete_document_and_read_a_chunk(http, scratch):
    job = wait_for(
        http, http.post("/v1/documents", files=[sample(GEARBOX), sample(BULLETIN)]).json()["id"]
    )
    ids = {f["name"]: f["document_id"] for f in job["files"]}
    gearbox, bulletin = ids[GEARBOX.name], ids[BULLETIN.name]

    shown = http.get(f"/v1/documents/{gearbox[:6]}")  # a unique prefix, as in the CLI
    assert shown.status_code == 200, shown.text
    doc = shown.json()
    assert doc["id"] == gearbox and doc["format"] == "markdown" and doc["pages"] >= 1
    chunks = scratch.pg.chunks(gearbox)
    assert doc["chunks"] == len(doc["chunk_list"]) == len(chunks)
    assert doc["sections"] == len({c["section_path"] for c in chunks}) > 1
    assert doc["facts"]["Part"] == 22 and doc["facts"]["Procedure"] == 5  # as the CLI shows

    first = doc["chunk_list"][0]
    chunk = http.get(f"/v1/chunks/{first['id']}").json()
    assert chunk["document_id"] == gearbox and chunk["text"] == chunks[0]["text"]
    assert http.get("/v1/chunks/nope:0001").status_code == 404

    missing = http.get("/v1/documents/ffffffff")
    assert missing.status_code == 404 and missing.json()["error"]["code"] == "document_not_found"

    # Deleting the bulletin removes its chunks and the facts only it supported.
    only_bulletin = http.get("/v1/graph/entities", params={"q": "SBK-2407"}).json()["entities"]
    assert only_bulletin, "the bulletin's service kit should be in the graph"
    deleted = http.delete(f"/v1/documents/{bulletin}")
    assert deleted.status_code == 200 and deleted.json()["deleted"]["id"] == bulletin
    assert http.get(f"/v1/documents/{bulletin}").status_code == 404
    assert http.delete(f"/v1/documents/{bulletin}").status_code == 404
    assert [d["id"] for d in http.get("/v1/documents").json()["documents"]] == [gearbox]
    assert scratch.graph.document_ids() == {gearbox}
    assert http.get("/v1/graph/entities", params={"q": "SBK-2407"}).json()["entities"] == []
    assert http.get(f"/v1/documents/{gearbox}").json()["facts"] == doc["facts"]  # untouched


def test_file_names_cannot_escape_the_upload_folder(http, scratch):
    names = ["../../etc/evil.md", "/etc/passwd.md", "..\\..\\windows\\win.md", "nul\x00byte.md"]
    body = b"# Note\n\nThe X-9 pump needs no service.\n"
    accepted = http.post("/v1/documents", files=[part(n, body, "text/markdown") for n in names])
    assert accepted.status_code == 202, accepted.text
    job_id = accepted.json()["id"]
    stored = [f["name"] for f in accepted.json()["files"]]
    # httpx sends the NUL percent-encoded ("nul%00byte.md"); the raw byte is tried below.
    assert stored == ["evil.md", "passwd.md", "win.md", "nul_00byte.md"]
    assert [f["uploaded_as"] for f in accepted.json()["files"]][:3] == names[:3]
    folder = scratch.settings.uploads_dir / job_id
    assert sorted(p.name for p in folder.iterdir()) == sorted(stored)
    assert not (scratch.settings.data_dir / "etc").exists()
    assert not (scratch.settings.uploads_dir / "etc").exists()
    job = wait_for(http, job_id)
    # One content four times: added once, then recognised.
    assert sorted(f["status"] for f in job["files"]) == [
        "added",
        "unchanged",
        "unchanged",
        "unchanged",
    ]

    # A raw NUL byte and an absolute path in the part's header, as a hand-made client sends.
    boundary = "b0undary"
    raw = (
        (
            f"--{boundary}\r\n"
            'Content-Disposition: form-data; name="files"; filename="/tmp/x\x00/../../y.md"\r\n'
            "Content-Type: text/markdown\r\n\r\n"
        ).encode()
        + body
        + f"\r\n--{boundary}--\r\n".encode()
    )
    headers = {"Content-Type": f"multipart/form-data; boundary={boundary}"}
    hand_made = http.post("/v1/documents", content=raw, headers=headers)
    assert hand_made.status_code == 202, hand_made.text
    assert [f["name"] for f in hand_made.json()["files"]] == ["y.md"]
    assert (scratch.settings.uploads_dir / hand_made.json()["id"] / "y.md").is_file()
    assert wait_for(http, hand_made.json()["id"])["files"][0]["status"] == "unchanged"


def test_upload_limits_answer_4xx_with_clear_messages(http, scratch, scratch_api):
    uploads = scratch.settings.uploads_dir
    before = set(uploads.iterdir()) if uploads.exists() else set()
    wrong = http.post("/v1/documents", files=[part("manual.docx", b"PK..."), sample(GEARBOX)])
    assert wrong.status_code == 415
    error = wrong.json()["error"]
    assert error["code"] == "unsupported_file_type" and "manual.docx" in error["message"]
    assert ".pdf" in error["message"] and ".md" in error["message"]

    many = http.post("/v1/documents", files=[part(f"m{i}.md", b"# m") for i in range(5)])
    assert many.status_code == 400 and many.json()["error"]["code"] == "too_many_files"
    assert "at most 4" in many.json()["error"]["message"]

    big = http.post("/v1/documents", files=[part("huge.txt", b"x" * 300_000)])  # > 0.2 MB
    assert big.status_code == 413 and big.json()["error"]["code"] == "file_too_large"
    assert (
        "huge.txt" in big.json()["error"]["message"]
        and "MAX_FILE_MB" in big.json()["error"]["message"]
    )

    # The whole body: over MAINT_MAX_UPLOAD_MB (1 MB), refused before it is read.
    total = [part(f"t{i}.txt", b"x" * 190_000) for i in range(4)] + [part("u.txt", b"x" * 400_000)]
    whole = http.post("/v1/documents", files=total)
    assert whole.status_code == 413 and whole.json()["error"]["code"] == "request_too_large"
    assert "MAX_UPLOAD_MB" in whole.json()["error"]["message"]

    # The upload's larger limit is its own: other endpoints keep MAINT_MAX_REQUEST_KB (64).
    query = http.post("/v1/query", json={"question": "x" * 100_000})
    assert query.status_code == 413 and "MAX_REQUEST_KB" in query.json()["error"]["message"]

    empty = http.post("/v1/documents", data={"note": "no files"})
    assert empty.status_code == 422 and "files" in empty.json()["error"]["message"]

    # Nothing was stored by any refused request.
    assert (set(uploads.iterdir()) if uploads.exists() else set()) == before
    assert http.get("/v1/documents").json()["documents"] == []

    no_key = httpx.post(f"{scratch_api}/v1/documents", files=[sample(GEARBOX)])
    assert no_key.status_code == 401
    for path in ("/v1/documents", "/v1/jobs/" + "0" * 32, "/v1/chunks/x"):
        assert httpx.get(f"{scratch_api}{path}").status_code == 401


def test_unknown_jobs(http):
    unknown = http.get("/v1/jobs/" + "0" * 32)
    assert unknown.status_code == 404 and unknown.json()["error"]["code"] == "job_not_found"
    assert http.get("/v1/jobs/..%2F..%2Fetc").status_code in (404, 422)
    assert http.get("/v1/jobs/not-a-job").status_code == 422


def test_graph_store_down_answers_503_and_documents_still_list(http, scratch):
    job = wait_for(http, http.post("/v1/documents", files=[sample(BULLETIN)]).json()["id"])
    doc_id = job["files"][0]["document_id"]
    data_dir = scratch.settings.data_dir
    EmbeddedFalkorDB(data_dir).stop()
    try:
        down = http.get("/v1/graph/entities", params={"q": "WP-2207-B"})
        assert down.status_code == 503 and down.json()["error"]["code"] == "graph_unavailable"
        assert http.get("/v1/graph/entities/Part:WP2207B").status_code == 503
        assert [d["id"] for d in http.get("/v1/documents").json()["documents"]] == [doc_id]
        shown = http.get(f"/v1/documents/{doc_id}").json()
        assert shown["chunks"] > 0 and shown["facts"] == {} and shown["warnings"]
        refused = http.delete(f"/v1/documents/{doc_id}")
        assert refused.status_code == 503 and refused.json()["error"]["code"] == "graph_unavailable"
        assert [d.id for d in scratch.pg.list_documents()] == [doc_id]  # nothing half-deleted
    finally:
        EmbeddedFalkorDB(data_dir).start()
    found = search_until_back(http, "WP-2207-B")
    assert found[0]["id"] == "Part:WP2207B"
    assert http.delete(f"/v1/documents/{doc_id}").status_code == 200


def search_until_back(http: httpx.Client, q: str, timeout_s: float = 60) -> list[dict]:
    deadline = time.monotonic() + timeout_s
    while True:
        r = http.get("/v1/graph/entities", params={"q": q})
        if r.status_code == 200:
            return r.json()["entities"]
        assert time.monotonic() < deadline, r.text
        time.sleep(0.5)
