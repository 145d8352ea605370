"""Parsing ahead: the next files of a batch are parsed in worker processes while the pipeline
chunks, embeds and stores the current one, so parsing overlaps embedding.

Parsing is pure (bytes in, ``ParsedDocument`` out), so a document parsed in a worker is the
one the pipeline would have parsed itself: the same chunks and facts follow. Workers are
spawned (not forked from a process whose torch or onnxruntime threads are running) and
ignore Ctrl-C: the pipeline's own process handles it, as when it parses itself.
"""

from __future__ import annotations

import multiprocessing
import os
import signal
import time
from concurrent.futures import Future, ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path

from ingestion.parsers import ParseError, parse_file
from maint.domain import ParsedDocument


@dataclass
class ParseOutcome:
    """What parsing one file gave; errors travel as text (a library's exception may not
    survive pickling)."""

    doc: ParsedDocument | None = None
    reason: str | None = None  # a ParseError: the file cannot be ingested, and why
    hint: str | None = None
    crash: str | None = None  # any other exception, "Type: message"
    seconds: float = 0.0

    def unwrap(self) -> ParsedDocument:
        """The document, or the error the serial parser would have raised."""
        if self.reason is not None:
            raise ParseError(self.reason, self.hint or "")
        if self.crash is not None:
            raise ParseCrash(self.crash)
        assert self.doc is not None
        return self.doc


class ParseCrash(Exception):
    """A parser library failed in a worker; its type and message, for the file's line."""


def parse_outcome(path: Path, data: bytes) -> ParseOutcome:
    start = time.perf_counter()
    try:
        doc = parse_file(path, data)
    except ParseError as exc:
        return ParseOutcome(reason=exc.reason, hint=exc.hint)
    except Exception as exc:  # a parser library choking on a damaged file
        return ParseOutcome(crash=f"{type(exc).__name__}: {exc}")
    return ParseOutcome(doc=doc, seconds=time.perf_counter() - start)


def default_workers() -> int:
    """One core left to the pipeline's own process (chunking, embedding, the stores)."""
    return max(1, min(4, (os.cpu_count() or 2) - 1))


def _worker_setup() -> None:
    """Lowest CPU priority: a parser takes the cores the embedder leaves idle. At equal
    priority on 2 cores it halved the int8 embedder's speed (its threads wait for each other
    when one is descheduled), more than parsing ahead won (parsing is a tenth of ingestion)."""
    from maint.process import setup

    os.nice(19)
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    setup()  # quiet parser-library loggers here too


class ParsePool:
    """A pool of parser processes, started on first use and stopped on exit."""

    def __init__(self, workers: int):
        self.workers = workers
        self._pool: ProcessPoolExecutor | None = None

    def submit(self, path: Path, data: bytes) -> Future[ParseOutcome]:
        if self._pool is None:
            self._pool = ProcessPoolExecutor(
                self.workers,
                mp_context=multiprocessing.get_context("spawn"),
                initializer=_worker_setup,
            )
        return self._pool.submit(parse_outcome, path, data)

    def __enter__(self) -> ParsePool:
        return self

    def __exit__(self, exc_type, *_) -> None:
        if self._pool is not None:
            # Interrupted: queued files are dropped; the file being parsed is finished and the
            # processes joined (not waited for, they outlived an interrupted `maint ingest`).
            self._pool.shutdown(wait=True, cancel_futures=True)
