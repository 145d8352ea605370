"""Prometheus metrics of the API, in a registry of its own (one per app, so two apps in one
process, as in tests, do not collide)."""

from __future__ import annotations

from collections.abc import Callable

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram
from prometheus_client.exposition import choose_encoder

from serving.answering.schema import Answer

# Seconds: a health check takes milliseconds, a CPU answer tens of seconds.
_BUCKETS = (0.005, 0.025, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 20, 40, 80, 160)


class ApiMetrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        r = self.registry
        self.requests = Counter(
            "maint_http_requests",
            "HTTP requests by endpoint (route template), method, answer mode and status.",
            ["endpoint", "method", "mode", "status"],
            registry=r,
        )
        self.latency = Histogram(
            "maint_http_request_duration_seconds",
            "Time from request to the end of the response, by endpoint and answer mode.",
            ["endpoint", "mode"],
            buckets=_BUCKETS,
            registry=r,
        )
        self.retrieval = Histogram(
            "maint_retrieval_seconds",
            "Retrieval time per answer (vector, keyword, graph, fusion).",
            ["mode"],
            buckets=_BUCKETS,
            registry=r,
        )
        self.generation = Histogram(
            "maint_generation_seconds",
            "Model generation time per answer.",
            ["mode"],
            buckets=_BUCKETS,
            registry=r,
        )
        self.guard_rejections = Counter(
            "maint_guard_rejections",
            "Answers whose draft had a part number or value the sources do not back.",
            ["mode"],
            registry=r,
        )
        self.queue_rejections = Counter(
            "maint_queue_rejections",
            "Requests refused with 503 because the answer queue was full.",
            registry=r,
        )
        self.in_flight = Gauge(
            "maint_answers_in_flight",
            "Questions being answered or waiting for the answer worker.",
            registry=r,
        )

    def watch_queue(self, in_flight: Callable[[], float]) -> None:
        self.in_flight.set_function(in_flight)

    def observe_request(
        self, endpoint: str, method: str, mode: str, status: int, seconds: float
    ) -> None:
        self.requests.labels(endpoint, method, mode, str(status)).inc()
        self.latency.labels(endpoint, mode).observe(seconds)

    def observe_answer(self, answer: Answer) -> None:
        t = answer.timings  # milliseconds
        retrieval = t.get("retrieve_total")  # its stages overlap: never their sum
        if retrieval:
            self.retrieval.labels(answer.mode).observe(retrieval / 1000)
        if "generate" in t:
            self.generation.labels(answer.mode).observe(t["generate"] / 1000)
        if not answer.verified:
            self.guard_rejections.labels(answer.mode).inc()

    def render(self, accept: str | None) -> tuple[bytes, str]:
        """The exposition format the scraper asked for (Accept), and its content type."""
        encode, content_type = choose_encoder(accept or "")
        return encode(self.registry), content_type
