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

Several workers (``maint ingest`` processes on one machine or several, sharing one PostgreSQL
and one graph) split a batch instead of each doing all of it, and leave the stores as one
worker would:

- before a file is parsed, its worker claims the document it becomes (``ChunkStore.claim``:
  a PostgreSQL session advisory lock named by the document id). A worker that finds it
  claimed skips the file with a line saying so; the claimant stores it. The lock ends with
  the claimant's connection, so a worker that dies blocks nothing;
- ``recover()`` removes only unclaimed half-written documents: a claimed one is being written
  by a live worker, not abandoned;
- graph writes and deletes take turns (one shared lock): FalkorDB runs a document's statements
  one by one, and another worker's sweep of orphaned shared nodes (``delete_document``) between
  "merge the Part" and "link it to its chunk" would delete the new Part. The graph stage is a
  small part of a file's time (embedding is most of it), so the turns cost little.
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
from ingestion.chunker import chunk_document
from ingestion.extract import Extractor, RuleExtractor
from ingestion.parse_ahead import ParseCrash, ParseOutcome, ParsePool, default_workers
from ingestion.parsers import SUPPORTED_SUFFIXES, ParseError, parse_file
from maint.domain import DocumentRecord, ParsedDocument
from maint.embed import Embedder, embed_distinct
from maint.settings import Settings
from retrieval.store import ChunkStore

Status = Literal["added", "updated", "unchanged", "failed", "skipped"]

# Names of the locks workers share (``ChunkStore.claim``); see the module docstring.
GRAPH_WRITES = "maint:graph-writes"


def document_claim(doc_id: str) -> str:
    return f"maint:ingest:{doc_id}"


def document_id(sha256: str) -> str:
    """A document's id: the start of its content hash."""
    return sha256[:16]


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
    claimed: bool = False  # this worker holds the document's claim


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
        """Remove what an interrupted run left half-written; returns the document ids.
        Documents another worker has claimed are being written now: they stay."""
        removed = [d.id for d in self.pg.pending_documents() if self._remove_abandoned(d.id)]
        orphans = self.graph.document_ids() - self.pg.complete_ids()
        removed += [doc_id for doc_id in orphans if self._remove_abandoned(doc_id)]
        return sorted(set(removed))

    def _remove_abandoned(self, doc_id: str) -> bool:
        """Remove a half-written document unless a live worker holds its claim. Checked again
        under the claim: its worker may have completed it and let go since it was listed."""
        name = document_claim(doc_id)
        if not self.pg.claim(name):
            return False
        try:
            if doc_id in self.pg.complete_ids():
                return False
            remove_document(self.pg, self.graph, doc_id)
            return True
        finally:
            self.pg.release(name)

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
        window: deque[_Read | FileResult] = deque()
        try:
            with ParsePool(workers) as pool:
                upcoming = iter(files)
                while True:
                    # Parsing now: this file and up to ``workers`` after it. The first file
                    # is parsed here, while the parser processes start.
                    while len(window) <= workers and (job := next(upcoming, None)):
                        ahead = workers and (window or summary.files)
                        window.append(self._prepare(*job, pool if ahead else None))
                    if not window:
                        break
                    item = window.popleft()
                    if on_file_start:
                        on_file_start(Path(item.path))
                    if isinstance(item, _Read):
                        item = self._turn(item, summary.timings)
                    summary.files.append(item)
                    if on_file_done:
                        on_file_done(item)
            if any(f.status in ("added", "updated") for f in summary.files):
                self.pg.refresh_statistics()
        except KeyboardInterrupt:
            interrupted = True
            raise
        finally:
            for left in window:  # claimed ahead, not reached: let other workers have them
                if isinstance(left, _Read):
                    self._unclaim(left, quiet=True)
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

    def _turn(self, read: _Read, timings: Timings) -> FileResult:
        """A file read ahead, at its turn."""
        read.t0 = time.perf_counter()
        if Path(read.path).exists():
            return self._ingest_read(read, timings)
        if read.parsing is not None:  # read ahead, then removed before its turn
            read.parsing.cancel()
        self._unclaim(read)
        return self._vanished(Path(read.path), read.t0)

    def _prepare(self, path: Path, explicit: bool, pool: ParsePool | None) -> _Read | FileResult:
        """Skip, read and hash one file; unless it is stored, claim it (or skip it, claimed by
        another worker) and, with a pool, start parsing it."""
        if not explicit and path.suffix.lower() not in SUPPORTED_SUFFIXES:
            return FileResult(
                str(path),
                "skipped",
                reason=f"not a manual format ({path.suffix})",
                hint=f"supported: {', '.join(SUPPORTED_SUFFIXES)}",
            )
        read = self._read(path, time.perf_counter())
        if isinstance(read, FileResult):
            return read
        stored = self.pg.find_by_sha(read.sha)
        if stored is not None and stored.status == "complete":
            return read
        if not self._claim(read):
            return self._claimed_elsewhere(read)
        if pool is not None:
            with contextlib.suppress(BrokenProcessPool):  # a parser process was killed:
                read.parsing = pool.submit(path, read.data)  # parse here instead
        return read

    # -- claims (several workers; see the module docstring) ----------------------------
    def _claim(self, read: _Read) -> bool:
        read.claimed = self.pg.claim(document_claim(document_id(read.sha)))
        return read.claimed

    def _unclaim(self, read: _Read, quiet: bool = False) -> None:
        """Let go of the file's claim. ``quiet`` on the way out of an error: Ctrl-C can leave
        the connection busy, and the lock then ends with the connection."""
        if not read.claimed:
            return
        read.claimed = False
        try:
            self.pg.release(document_claim(document_id(read.sha)))
        except Exception:
            if not quiet:
                raise

    def _claimed_elsewhere(self, read: _Read) -> FileResult:
        return FileResult(
            read.path,
            "skipped",
            document_id=document_id(read.sha),
            reason="another worker is ingesting this content now",
            hint="that worker stores it; nothing to do here",
            seconds=time.perf_counter() - read.t0,
        )

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
        """One file read, under its claim (taken here unless ``_prepare`` took it), which is
        let go once the file is stored, found unchanged or failed."""
        if not read.claimed:
            if (unchanged := self._unchanged(read)) is not None:
                return unchanged
            if not self._claim(read):
                return self._claimed_elsewhere(read)
        try:  # stored meanwhile, by this worker (the same content earlier) or another
            result = self._unchanged(read) or self._store(read, timings or Timings())
        except BaseException:
            self._unclaim(read, quiet=True)
            raise
        self._unclaim(read)
        return result

    def _unchanged(self, read: _Read) -> FileResult | None:
        """The result for content already stored (recording its new path), else None."""
        existing = self.pg.find_by_sha(read.sha)
        if existing is None or existing.status != "complete":
            return None
        if read.parsing is not None:
            read.parsing.cancel()  # the same content earlier in this batch
        if existing.source_path != read.source:
            self.pg.move(existing.id, read.source)
        return FileResult(
            read.path,
            "unchanged",
            document_id=existing.id,
            title=existing.title,
            pages=existing.pages,
            chunks=existing.chunks,
            seconds=time.perf_counter() - read.t0,
        )

    def _store(self, read: _Read, timings: Timings) -> FileResult:
        path, t0, sha, source = Path(read.path), read.t0, read.sha, read.source
        parsed = self._parse(read, timings)
        if isinstance(parsed, FileResult):
            return parsed
        data = read.data

        doc_id = document_id(sha)
        if self.embedder is None:
            raise ValueError("Ingestor needs an embedder to ingest files")
        with timings.measure("extract"):
            chunks = chunk_document(doc_id, parsed, self.embedder.count_tokens, self.settings)
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
            embedded = embed_distinct(self.embedder, texts)
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
            with timings.measure("graph"), graph_turn(self.pg):
                self.graph.write_document(doc, chunks, facts)
        except Exception as exc:
            # Leave nothing half-written: the pending version goes, the old one stays.
            _reraise_interrupt(exc)
            try:
                with graph_turn(self.pg):
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
        if previous:
            with timings.measure("graph"), graph_turn(self.pg):
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
    with graph_turn(pg):
        graph.delete_document(doc_id)
    return pg.delete_document(doc_id)


@contextlib.contextmanager
def graph_turn(pg: ChunkStore) -> Iterator[None]:
    """Write to or delete from the graph while no other worker does (module docstring).
    Leaving on an error, a failed release is ignored: Ctrl-C can leave the connection busy,
    and the lock then ends with the connection."""
    pg.claim(GRAPH_WRITES, wait=True)
    try:
        yield
    except BaseException:
        with contextlib.suppress(Exception):
            pg.release(GRAPH_WRITES)
        raise
    pg.release(GRAPH_WRITES)


def _reraise_interrupt(exc: BaseException) -> None:
    """Ctrl-C inside a library call can come back wrapped in that library's own error; it
    must still stop the run (exit 130), not count as one failed file."""
    seen = exc
    while seen is not None:
        if isinstance(seen, KeyboardInterrupt):
            raise KeyboardInterrupt from exc
        seen = seen.__cause__ or seen.__context__
