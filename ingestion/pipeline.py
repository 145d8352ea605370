"""The ingestion pipeline: files in, chunks in Postgres and facts in the graph.

A document is keyed by the sha256 of its bytes. Per file: read, hash (unchanged content is
skipped), parse, chunk, extract, embed, then write in an order that keeps the stores
consistent at every instant:

1. Postgres: the new version and its chunks as ``pending`` (one transaction, invisible);
2. graph: its chunks and facts (idempotent MERGEs);
3. Postgres: flip it to ``complete`` and drop the version it replaces (one transaction);
4. graph: remove the replaced version's facts.

A crash or Ctrl-C between any two steps leaves either the old or the new version visible;
``recover()`` at the start of the next run removes what was left half-written, and the rerun
ingests the file again. One bad file never stops the batch.
"""

from __future__ import annotations

import contextlib
import hashlib
import time
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future
from concurrent.futures.process import BrokenProcessPool
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Literal

from graph.base import GraphStore
from ingestion.chunker import chunk_blocks, to_blocks
from ingestion.extract import Extractor, RuleExtractor
from ingestion.parse_ahead import ParseCrash, ParseOutcome, ParsePool, default_workers
from ingestion.parsers import SUPPORTED_SUFFIXES, ParseError, parse_file
from maint.domain import DocumentRecord, ParsedDocument
from maint.embed import Embedder
from maint.settings import Settings
from retrieval.store import ChunkStore

Status = Literal["added", "updated", "unchanged", "failed", "skipped"]


@dataclass
class FileResult:
    path: str
    status: Status
    document_id: str | None = None
    title: str | None = None
    pages: int = 0
    chunks: int = 0
    entities: int = 0
    relations: int = 0
    seconds: float = 0.0
    reason: str | None = None
    hint: str | None = None
    pages_without_text: list[int] = field(default_factory=list)  # image-only pages


@dataclass
class _Read:
    """A file read and hashed, perhaps being parsed ahead (``parsing``)."""

    path: str
    data: bytes
    sha: str
    source: str
    t0: float
    parsing: Future[ParseOutcome] | None = None


@dataclass
class Timings:
    parse: float = 0.0  # the pipeline's own time parsing, or waiting for a parser process
    extract: float = 0.0
    embed: float = 0.0
    vector_store: float = 0.0
    graph: float = 0.0
    parse_workers: float = 0.0  # parsing done in parser processes, overlapping the rest

    @contextlib.contextmanager
    def measure(self, stage: str) -> Iterator[None]:
        start = time.perf_counter()
        try:
            yield
        finally:
            setattr(self, stage, getattr(self, stage) + time.perf_counter() - start)


@dataclass
class IngestSummary:
    files: list[FileResult] = field(default_factory=list)
    seconds: float = 0.0
    timings: Timings = field(default_factory=Timings)
    recovered: list[str] = field(default_factory=list)

    def count(self, status: Status) -> int:
        return sum(1 for f in self.files if f.status == status)

    @property
    def failed(self) -> bool:
        return self.count("failed") > 0

    def totals(self) -> dict[str, int]:
        done = [f for f in self.files if f.status in ("added", "updated")]
        return {
            "pages": sum(f.pages for f in done),
            "chunks": sum(f.chunks for f in done),
            "entities": sum(f.entities for f in done),
            "relations": sum(f.relations for f in done),
        }

    def to_dict(self) -> dict:
        return {
            "documents": {
                s: self.count(s) for s in ("added", "updated", "unchanged", "failed", "skipped")
            },
            **self.totals(),
            "seconds": round(self.seconds, 3),
            "timings": {k: round(v, 3) for k, v in asdict(self.timings).items()},
            "recovered": self.recovered,
            "files": [asdict(f) for f in self.files],
        }


def discover(paths: Iterable[Path]) -> Iterator[tuple[Path, bool]]:
    """Files to ingest: (path, named explicitly). Folders are walked, hidden files skipped."""
    for path in paths:
        if path.is_dir():
            for child in sorted(path.rglob("*")):
                rel = child.relative_to(path)
                if child.is_file() and not any(p.startswith(".") for p in rel.parts):
                    yield child, False
        else:
            yield path, True


class Ingestor:
    def __init__(
        self,
        settings: Settings,
        pg: ChunkStore,
        graph: GraphStore,
        embedder: Embedder | None = None,
        extractor: Extractor | None = None,
    ):
        """``embedder`` may be left out by callers that only delete or recover."""
        self.settings = settings
        self.pg = pg
        self.graph = graph
        self.embedder = embedder
        self.extractor = extractor or RuleExtractor()

    # -- consistency ------------------------------------------------------------------
    def recover(self) -> list[str]:
        """Remove what an interrupted run left half-written; returns the document ids."""
        removed = []
        for doc in self.pg.pending_documents():
            self.graph.delete_document(doc.id)
            self.pg.delete_document(doc.id)
            removed.append(doc.id)
        complete = self.pg.complete_ids()
        for doc_id in self.graph.document_ids() - complete:
            self.graph.delete_document(doc_id)
            removed.append(doc_id)
        return sorted(set(removed))

    def delete(self, doc_id: str) -> bool:
        """Delete a document: its chunks, and the facts only it supported."""
        return remove_document(self.pg, self.graph, doc_id)

    # -- ingestion --------------------------------------------------------------------
    def ingest(
        self,
        paths: Iterable[Path],
        on_file_start: Callable[[Path], None] | None = None,
        on_file_done: Callable[[FileResult], None] | None = None,
    ) -> IngestSummary:
        """Files one after the other, in order; the next ones are read and parsed ahead in
        worker processes (``parse_workers``) while this one is embedded and stored."""
        start = time.perf_counter()
        summary = IngestSummary()
        summary.recovered = self.recover()
        run_id = self.pg.start_run()
        files = list(discover(paths))
        workers = self.settings.parse_workers
        workers = default_workers() if workers is None else workers
        workers = workers if len(files) > 1 else 0
        interrupted = False
        try:
            with ParsePool(workers) as pool:
                upcoming = iter(files)
                window: deque[_Read | FileResult] = deque()
                while True:
                    # Parsing now: this file and up to ``workers`` after it. The first file
                    # is parsed here, while the parser processes start.
                    while len(window) <= workers and (job := next(upcoming, None)):
                        ahead = workers and (window or summary.files)
                        window.append(self._prepare(*job, pool if ahead else None))
                    if not window:
                        break
                    item = window.popleft()
                    path = Path(item.path)
                    if on_file_start:
                        on_file_start(path)
                    if isinstance(item, _Read):
                        item.t0 = time.perf_counter()
                        if not path.exists():  # read ahead, then removed before its turn
                            if item.parsing is not None:
                                item.parsing.cancel()
                            item = self._vanished(path, item.t0)
                        else:
                            item = self._ingest_read(item, summary.timings)
                    summary.files.append(item)
                    if on_file_done:
                        on_file_done(item)
        except KeyboardInterrupt:
            interrupted = True
            raise
        finally:
            summary.seconds = time.perf_counter() - start
            try:
                self.pg.finish_run(run_id, summary.to_dict())
            except Exception:
                # Ctrl-C can cut a query short and leave the connection busy ("another command
                # is already in progress"): the run then stays unfinished in ingestion_runs,
                # and the interrupt, not this error, ends the command (exit 130, not 1).
                if not interrupted:
                    raise
        return summary

    def _prepare(self, path: Path, explicit: bool, pool: ParsePool | None) -> _Read | FileResult:
        """Skip, read and hash one file; with a pool, start parsing it unless it is stored."""
        if not explicit and path.suffix.lower() not in SUPPORTED_SUFFIXES:
            return FileResult(
                str(path),
                "skipped",
                reason=f"not a manual format ({path.suffix})",
                hint=f"supported: {', '.join(SUPPORTED_SUFFIXES)}",
            )
        read = self._read(path, time.perf_counter())
        if isinstance(read, _Read) and pool is not None:
            stored = self.pg.find_by_sha(read.sha)
            if stored is None or stored.status != "complete":
                with contextlib.suppress(BrokenProcessPool):  # a parser process was killed:
                    read.parsing = pool.submit(path, read.data)  # parse here instead
        return read

    def _fail(self, path: Path, t0: float, reason: str, hint: str) -> FileResult:
        return FileResult(
            str(path), "failed", reason=reason, hint=hint, seconds=time.perf_counter() - t0
        )

    def _vanished(self, path: Path, t0: float) -> FileResult:
        return self._fail(
            path,
            t0,
            "file not found (removed or renamed during the run?)",
            "check the path and run the command again",
        )

    def ingest_file(self, path: Path, timings: Timings | None = None) -> FileResult:
        """One file, parsed in this process."""
        read = self._read(path, time.perf_counter())
        return read if isinstance(read, FileResult) else self._ingest_read(read, timings)

    def _read(self, path: Path, t0: float) -> _Read | FileResult:
        try:
            size = path.stat().st_size
            limit = self.settings.max_file_mb * 1024 * 1024
            if size > limit:
                return self._fail(
                    path,
                    t0,
                    f"file is {size / 1e6:.0f} MB, over the {self.settings.max_file_mb:g} MB limit",
                    "split the manual, or raise MAINT_MAX_FILE_MB if it really is one manual",
                )
            data = path.read_bytes()
        except FileNotFoundError:
            return self._vanished(path, t0)
        except IsADirectoryError:
            return self._fail(path, t0, "is a directory", "pass the folder itself")
        except PermissionError:
            return self._fail(path, t0, "permission denied", "make the file readable")
        sha = hashlib.sha256(data).hexdigest()
        return _Read(str(path), data, sha, str(path.resolve()), t0)

    def _parse(self, read: _Read, timings: Timings) -> ParsedDocument | FileResult:
        """The parsed document (from the pool when it was parsed ahead), or the failure."""
        path, t0 = Path(read.path), read.t0
        try:
            with timings.measure("parse"):
                if read.parsing is not None:
                    outcome = read.parsing.result()
                    timings.parse_workers += outcome.seconds
                    return outcome.unwrap()
                return parse_file(path, read.data)
        except ParseError as exc:
            return self._fail(path, t0, exc.reason, exc.hint)
        except Exception as exc:  # a parser library choking on a damaged file
            _reraise_interrupt(exc)
            crash = str(exc) if isinstance(exc, ParseCrash) else f"{type(exc).__name__}: {exc}"
            return self._fail(
                path,
                t0,
                f"could not be parsed ({crash})",
                "check that the file opens in its usual viewer; re-export it if not",
            )

    def _ingest_read(self, read: _Read, timings: Timings | None = None) -> FileResult:
        timings = timings or Timings()
        path, t0, sha, source = Path(read.path), read.t0, read.sha, read.source
        existing = self.pg.find_by_sha(sha)
        if existing is not None and existing.status == "complete":
            if read.parsing is not None:
                read.parsing.cancel()  # the same content earlier in this batch
            if existing.source_path != source:
                self.pg.move(existing.id, source)
            return FileResult(
                str(path),
                "unchanged",
                document_id=existing.id,
                title=existing.title,
                pages=existing.pages,
                chunks=existing.chunks,
                seconds=time.perf_counter() - t0,
            )

        parsed = self._parse(read, timings)
        if isinstance(parsed, FileResult):
            return parsed
        data = read.data

        doc_id = sha[:16]
        if self.embedder is None:
            raise ValueError("Ingestor needs an embedder to ingest files")
        with timings.measure("extract"):
            chunks = chunk_blocks(
                doc_id,
                to_blocks(parsed),
                self.embedder.count_tokens,
                self.settings.chunk_tokens,
                self.settings.chunk_overlap_tokens,
                self.settings.max_chunk_tokens,
                parsed.title,
            )
            facts = self.extractor.extract(doc_id, parsed.title, chunks, parsed)
        if not chunks:
            return self._fail(
                path,
                t0,
                "no text to index after parsing",
                "check that the file is a manual with a text layer",
            )

        with timings.measure("embed"):
            texts = [c.embed_text for c in chunks] + [u for c in chunks for u in c.unit_embed_texts]
            embedded = self.embedder.embed(texts)
            vectors, unit_vectors = embedded[: len(chunks)], []
            at = len(chunks)
            for c in chunks:
                unit_vectors.append(embedded[at : at + len(c.units)])
                at += len(c.units)

        previous = [d.id for d in self.pg.find_by_source(source) if d.id != doc_id]
        doc = DocumentRecord(
            id=doc_id,
            sha256=sha,
            source_path=source,
            title=parsed.title,
            format=parsed.format,
            pages=parsed.pages,
            bytes=len(data),
            status="pending",
            chunks=len(chunks),
        )
        with timings.measure("vector_store"):
            self.pg.write_pending(doc, chunks, vectors, unit_vectors)
        try:
            with timings.measure("graph"):
                self.graph.write_document(doc, chunks, facts)
        except Exception as exc:
            # Leave nothing half-written: the pending version goes, the old one stays.
            _reraise_interrupt(exc)
            try:
                self.graph.delete_document(doc_id)
            finally:
                self.pg.delete_document(doc_id)
            return self._fail(
                path,
                t0,
                f"graph store refused the facts ({type(exc).__name__}: {exc})",
                "check the graph store (`maint services status`) and run the command again",
            )
        with timings.measure("vector_store"):
            self.pg.complete(doc_id, replaces=previous)
        with timings.measure("graph"):
            for old in previous:
                self.graph.delete_document(old)
        return FileResult(
            str(path),
            "updated" if previous else "added",
            document_id=doc_id,
            title=parsed.title,
            pages=parsed.pages,
            chunks=len(chunks),
            entities=len(facts.nodes),
            relations=len(facts.edges),
            seconds=time.perf_counter() - t0,
            pages_without_text=parsed.pages_without_text,
        )


def remove_document(pg: ChunkStore, graph: GraphStore, doc_id: str) -> bool:
    """Graph first, then PostgreSQL: interrupted in between, the document is still complete
    there, and deleting it again (or ``recover()``) finishes the job."""
    graph.delete_document(doc_id)
    return pg.delete_document(doc_id)


def _reraise_interrupt(exc: BaseException) -> None:
    """Ctrl-C inside a library call can come back wrapped in that library's own error; it
    must still stop the run (exit 130), not count as one failed file."""
    seen = exc
    while seen is not None:
        if isinstance(seen, KeyboardInterrupt):
            raise KeyboardInterrupt from exc
        seen = seen.__cause__ or seen.__context__
