"""What the API answers with: the stores, the models and the ``Answerer`` built on them.

Opened once at start-up (embedded servers are started then, as every maint command does) and
kept. Afterwards the stores are only reconnected to, never restarted: a server an operator
stopped (``maint services stop``) stays stopped, and the API recovers by itself when it
returns. PostgreSQL: one connection, used by the answer worker; it is pinged before each
answer and reopened when it broke, and while it cannot be reopened answers fail with
``StoreUnavailable`` (503). The graph: its client reconnects by itself (redis-py, the neo4j
driver), and while it is down the ``Answerer`` answers without graph facts, with a warning;
only a graph that could not be opened at all is retried here, every few seconds.
"""

from __future__ import annotations

import logging
import threading
import time

import psycopg

from graph.base import GraphStore
from infra.embedded import EmbeddedFalkorDB, EmbeddedPostgres, ServiceError
from infra.services import embedded_services, open_graph, open_pgstore
from maint.embed import Embedder, embedder_for
from maint.errors import MaintError
from maint.settings import Settings
from retrieval.pgstore import PgStore
from retrieval.store import StoreError
from serving.answering.answer import Answerer, GeneratorPool
from serving.answering.factory import build_answerer
from serving.api.models import Check, Readiness

logger = logging.getLogger("maint.api")

GRAPH_RETRY_S = 5.0


class StoreUnavailable(MaintError):
    """PostgreSQL cannot be reached; the message says why."""


def short(exc: BaseException) -> str:
    """An exception's first line, for messages and logs."""
    text = str(exc).strip().splitlines()
    return (text[0] if text else type(exc).__name__)[:300]


def connect_only(settings: Settings) -> Settings:
    """The same settings with the embedded stores named by address, so that connecting with
    them never starts a server."""
    update: dict[str, str] = {}
    if settings.embedded_postgres:
        update["database_url"] = EmbeddedPostgres(settings.data_dir).url
    if settings.embedded_graph:
        update["graph_uri"] = EmbeddedFalkorDB(settings.data_dir).url
    return settings.model_copy(update=update)


class Backends:
    def __init__(
        self, settings: Settings, generators: GeneratorPool, embedder: Embedder | None = None
    ):
        self.settings = settings
        self.addresses = connect_only(settings)
        self.generators = generators
        self.embedder = embedder
        self.pg: PgStore | None = None
        self.graph: GraphStore | None = None
        self.pg_error: str | None = "not connected yet"
        self.graph_error: str | None = "not connected yet"
        self.model: str | None = None
        self.model_error: str | None = "not loaded yet"
        self._answerer: Answerer | None = None
        self._graph_tried = float("-inf")
        self._lock = threading.Lock()  # guards the connections and the Answerer

    # -- start and stop ---------------------------------------------------------------------
    def start(self) -> None:
        """Start embedded servers, connect, load the models. Store failures are logged and
        reported by /ready, not fatal: the API recovers when the store comes up."""
        for service in embedded_services(self.settings):
            try:
                service.start()
            except ServiceError as exc:
                logger.error("embedded %s did not start: %s", service.name, short(exc))
        with self._lock:
            self._connect_pg()
            self._connect_graph()
        if self.embedder is None:
            self.embedder = embedder_for(self.settings, lazy=False)
        self.load_models()

    def load_models(self) -> None:
        """Load the base model (rag) and the configured adapter (ft, hybrid) now, not on the
        first question."""
        pool = self.generators
        adapters = dict.fromkeys([pool.adapter_for("rag", None), pool.adapter_for("hybrid", None)])
        try:
            self.model = ", ".join(pool.get(adapter).name for adapter in adapters)
            self.model_error = None
        except Exception as exc:  # GeneratorError says what to do; anything else is logged
            self.model_error = short(exc)
            logger.error("model not loaded: %s", self.model_error)

    def close(self) -> None:
        with self._lock:
            if self.pg is not None:
                self.pg.close()
            if self.graph is not None:
                self.graph.close()
            self.pg = self.graph = self._answerer = None

    # -- connections ------------------------------------------------------------------------
    def _connect_pg(self) -> None:
        self._answerer = None
        try:
            self.pg, self.pg_error = open_pgstore(self.addresses), None
        except (StoreError, psycopg.Error, OSError) as exc:
            self.pg, self.pg_error = None, short(exc)
            logger.warning("PostgreSQL unavailable: %s", self.pg_error)

    def _connect_graph(self) -> None:
        self._answerer = None
        self._graph_tried = time.monotonic()
        try:
            self.graph, self.graph_error = open_graph(self.addresses), None
        except Exception as exc:  # any failure here means: no graph for now
            self.graph, self.graph_error = None, short(exc)
            logger.warning("graph store unavailable: %s", self.graph_error)

    def _pg_alive(self) -> bool:
        if self.pg is None:
            return False
        try:
            self.pg.ping()
            return True
        except psycopg.Error as exc:
            self.pg_error = short(exc)
            return False

    def answerer(self) -> tuple[Answerer, bool]:
        """The Answerer on live connections (for the answer worker), and whether it has the
        graph. Raises ``StoreUnavailable`` when PostgreSQL cannot be reached."""
        with self._lock:
            if not self._pg_alive():
                if self.pg is not None:
                    self.pg.close()
                self._connect_pg()
            if self.pg is None:
                raise StoreUnavailable(self.pg_error or "not connected")
            if self.graph is None and time.monotonic() - self._graph_tried > GRAPH_RETRY_S:
                self._connect_graph()
            if self._answerer is None:
                if self.embedder is None:
                    self.embedder = embedder_for(self.settings, lazy=False)
                self._answerer = build_answerer(
                    self.settings, self.pg, self.graph, self.embedder, self.generators
                )
            return self._answerer, self.graph is not None

    def lost_pg(self, exc: BaseException) -> bool:
        """After a database error while answering: was the connection lost? Then it is
        dropped, and the next answer reconnects."""
        with self._lock:
            if self.pg is None or not (self.pg.conn.closed or self.pg.conn.broken):
                return False
            self.pg.close()
            self.pg, self.pg_error, self._answerer = None, short(exc), None
            return True

    def note_model(self, name: str) -> None:
        """A model answered, so one is loaded (after a failed start-up load, say)."""
        if self.model is None:
            self.model, self.model_error = name, None

    # -- readiness ---------------------------------------------------------------------------
    def readiness(self) -> Readiness:
        """Each store reachable, the model loaded. Blocking (a few seconds at worst)."""
        checks = {"postgres": self._check_pg(), "graph": self._check_graph()}
        checks["model"] = (
            Check(ok=True, detail=f"loaded: {self.model}")
            if self.model
            else Check(ok=False, detail=f"not loaded: {self.model_error}")
        )
        return Readiness(ready=all(c.ok for c in checks.values()), checks=checks)

    def _check_pg(self) -> Check:
        url = self.addresses.database_url or ""
        try:  # a connection of its own: the answer worker's may be busy
            with psycopg.connect(url, connect_timeout=3, autocommit=True) as conn:
                conn.execute("SELECT 1")
            return Check(ok=True, detail="reachable")
        except psycopg.Error as exc:
            return Check(ok=False, detail=f"unreachable: {short(exc)}")

    def _check_graph(self) -> Check:
        with self._lock:
            if self.graph is None and time.monotonic() - self._graph_tried > GRAPH_RETRY_S:
                self._connect_graph()
            graph = self.graph
        if graph is None:
            return Check(ok=False, detail=f"unreachable: {self.graph_error}")
        if graph.ping():
            return Check(ok=True, detail=f"reachable ({graph.backend})")
        return Check(ok=False, detail=f"unreachable ({graph.backend}); answers lack graph facts")
