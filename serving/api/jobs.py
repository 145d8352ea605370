"""Ingestion jobs: the files of one ``POST /v1/documents``, ingested in the background.

Jobs run one at a time on a thread of their own, through the same ``Ingestor`` as
``maint ingest``: one bad file is reported with its reason and hint and never stops the
others, and an unchanged file is recognised by its hash. One at a time because the
``Ingestor`` starts each run by removing what an interrupted run left pending, which would
include the documents another running job is writing. Each job opens its own connections
(the stores are addressed, never started, as everywhere in the API) and closes them after.

Jobs are kept in memory (the last ``KEEP`` of them): a restarted server forgets them, while
the documents they ingested stay, listed by ``GET /v1/documents``.
"""

from __future__ import annotations

import logging
import threading
import uuid
from collections import OrderedDict
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from pathlib import Path

from infra.services import stores
from ingestion.pipeline import FileResult, Ingestor
from maint.embed import Embedder
from maint.settings import Settings
from serving.api.models import FileOutcome, Job, Progress
from serving.api.uploads import Stored

logger = logging.getLogger("maint.api")

KEEP = 200
JOB_ID_PATTERN = r"^[0-9a-f]{32}$"


def _now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def new_job_id() -> str:
    return uuid.uuid4().hex


class IngestJobs:
    def __init__(self, settings: Settings, embedder: Callable[[], Embedder]):
        """``settings``: addresses only (``backends.connect_only``), so a job never starts a
        server. ``embedder``: the app's loaded embedder, asked for when a job starts."""
        self.settings = settings
        self.embedder = embedder
        self._jobs: OrderedDict[str, Job] = OrderedDict()
        self._paths: dict[str, list[Path]] = {}
        self._lock = threading.Lock()
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="maint-ingest")

    def submit(self, job_id: str, files: list[Stored]) -> Job:
        outcomes = [
            FileOutcome(name=f.name, uploaded_as=f.uploaded_as, bytes=f.bytes) for f in files
        ]
        job = Job(
            id=job_id,
            status="queued",
            created_at=_now(),
            progress=Progress(done=0, total=len(files)),
            files=outcomes,
        )
        with self._lock:
            self._jobs[job_id] = job
            self._paths[job_id] = [f.path for f in files]
            while len(self._jobs) > KEEP:
                old, _ = self._jobs.popitem(last=False)
                self._paths.pop(old, None)
        self._executor.submit(self._run, job_id)
        return self.get(job_id) or job

    def get(self, job_id: str) -> Job | None:
        """A snapshot (a copy: the worker goes on changing the job)."""
        with self._lock:
            job = self._jobs.get(job_id)
            if job is None:
                return None
            snapshot = job.model_copy(deep=True)
        snapshot.errors = [f for f in snapshot.files if f.status == "failed"]
        return snapshot

    def close(self) -> None:
        self._executor.shutdown(wait=False, cancel_futures=True)

    # -- the worker ---------------------------------------------------------------------------
    def _update(self, job_id: str, change: Callable[[Job], None]) -> None:
        with self._lock:
            change(self._jobs[job_id])

    def _run(self, job_id: str) -> None:
        with self._lock:
            paths = list(self._paths.get(job_id, []))
        by_path = {str(p): i for i, p in enumerate(paths)}

        def started(job: Job) -> None:
            job.status, job.started_at = "running", _now()

        self._update(job_id, started)

        def on_start(path: Path) -> None:
            self._update(job_id, lambda job: setattr(job.progress, "current", path.name))

        def on_done(result: FileResult) -> None:
            def record(job: Job) -> None:
                i = by_path.get(result.path)
                if i is not None:
                    old = job.files[i]
                    job.files[i] = FileOutcome(
                        name=old.name,
                        uploaded_as=old.uploaded_as,
                        bytes=old.bytes,
                        status=result.status,
                        document_id=result.document_id,
                        title=result.title,
                        pages=result.pages,
                        chunks=result.chunks,
                        entities=result.entities,
                        relations=result.relations,
                        seconds=round(result.seconds, 3),
                        reason=result.reason,
                        hint=result.hint,
                    )
                job.progress.done += 1
                job.progress.current = None

            self._update(job_id, record)

        try:
            embedder = self.embedder()
            with stores(self.settings) as (pg, graph):
                Ingestor(self.settings, pg, graph, embedder).ingest(paths, on_start, on_done)
        except Exception as exc:  # the stores or the embedder: the job could not run
            logger.exception("ingestion job %s failed", job_id)
            message = str(exc).strip().splitlines()
            reason = (message[0] if message else type(exc).__name__)[:300]

            def failed(job: Job) -> None:
                job.status, job.error, job.finished_at = "failed", reason, _now()
                job.progress.current = None

            self._update(job_id, failed)
            return

        def finished(job: Job) -> None:
            job.status, job.finished_at = "done", _now()

        self._update(job_id, finished)
