"""RAGAS metrics for ``maint eval``, run fully offline.

Always: the metrics that need no LLM (context precision/recall against the gold evidence,
string similarity and ROUGE-L against the reference answer, ID-based context precision/recall
from chunk ids) and semantic similarity with maint's own embedder. With a judge (any
OpenAI-compatible endpoint): faithfulness, factual correctness and answer relevancy.

Offline by construction: ragas' usage tracking is switched off before ragas is imported, and
every metric gets its LLM and embeddings passed explicitly, so ragas never builds a default
(cloud) client. A NaN or a failed judgement is ``None`` and counted, never averaged away.

Which ragas API (0.4.3): ``ragas.metrics.collections`` is the current one, and is used where it
has the metric (string similarity, ROUGE, semantic similarity and the three judged metrics); its
metrics take ragas' modern ``BaseRagasEmbedding`` (our adapter below) and an ``InstructorLLM``
from ``llm_factory`` with an explicit ``openai.AsyncOpenAI`` client (the LangChain wrapper is
deprecated and the collections metrics reject it). The non-LLM and ID-based context metrics
exist only in the older ``ragas.metrics`` API (deprecated in favour of a collections version
that does not exist yet), so they come from there.
"""

from __future__ import annotations

import asyncio
import logging
import math
import os
import threading
import time
import warnings
from collections.abc import Awaitable, Callable, Coroutine, Sequence
from dataclasses import dataclass, field
from functools import cache
from typing import Any, TypeVar

# ragas reads this once and caches it (ragas._analytics.do_not_track), so it is set before any
# ragas import, and forced: an air-gapped tool never reports usage, whatever the environment says.
os.environ["RAGAS_DO_NOT_TRACK"] = "true"

log = logging.getLogger(__name__)

OFFLINE_METRICS: tuple[str, ...] = (
    "context_precision",
    "context_recall",
    "id_context_precision",
    "id_context_recall",
    "string_similarity",
    "rouge_l",
    "semantic_similarity",
)
JUDGED_METRICS: tuple[str, ...] = ("faithfulness", "factual_correctness", "answer_relevancy")

# A retrieved chunk "holds" a piece of evidence when the best-aligned window of the chunk matches
# the evidence at least this well (rapidfuzz partial_ratio / 100). Unrelated chunk/evidence pairs
# of the sample manuals score 0.44 (median), 0.64 (99th percentile); a chunk holding the evidence
# scores ~1.0.
CONTEXT_MATCH_THRESHOLD = 0.8


@dataclass
class RagasSample:
    question: str
    answer: str
    contexts: list[str]  # retrieved chunk texts given to the model, in rank order (ft: empty)
    context_ids: list[str]  # their chunk ids
    reference: str  # the gold answer
    reference_contexts: list[str]  # the gold evidence text(s)
    reference_context_ids: list[str]  # ids of corpus chunks that contain the evidence


@dataclass
class Judge:
    """An OpenAI-compatible chat endpoint that grades answers (e.g. vLLM, llama.cpp, Ollama)."""

    url: str  # OpenAI-compatible base URL, e.g. http://host:8000/v1
    model: str
    api_key: str = "not-needed"
    timeout_s: float = 120
    attempts: int = 2  # tries per judgement when the reply is not schema-valid JSON
    concurrency: int = 4  # samples judged at once


@dataclass
class RagasResult:
    per_sample: list[dict[str, float | None]]  # metric -> score; None: NaN, failed or n/a
    failures: dict[str, int]  # metric -> applicable samples that failed or gave NaN
    not_applicable: dict[str, int]  # metric -> samples lacking the metric's inputs
    seconds: float
    metrics: tuple[str, ...] = ()  # the metrics run, in report order
    errors: dict[str, str] = field(default_factory=dict)  # metric -> first failure, to show

    def summary(self) -> dict[str, dict]:
        """Per metric: mean over the valid scores only, and how many were valid, failed, n/a."""
        out: dict[str, dict] = {}
        for name in self.metrics or tuple(self.failures):
            valid = [s[name] for s in self.per_sample if s.get(name) is not None]
            out[name] = {
                "mean": sum(valid) / len(valid) if valid else None,  # type: ignore[arg-type]
                "valid": len(valid),
                "failed": self.failures.get(name, 0),
                "not_applicable": self.not_applicable.get(name, 0),
            }
        return out


def ragas_scores(
    samples: Sequence[RagasSample],
    embedder: Any,
    judge: Judge | None = None,
    progress: Callable[[int], None] | None = None,
) -> RagasResult:
    """Score every sample with the offline metrics, and the judged ones when ``judge`` is set.

    ``embedder`` has ``embed(texts) -> np.ndarray`` (maint's embedders); ``progress`` is called
    with the number of samples done after each one. Never raises for a failed metric: it is
    ``None`` in ``per_sample`` and counted in ``failures``.
    """
    t0 = time.perf_counter()
    result = _run_sync(_score_all(list(samples), embedder, judge, progress))
    result.seconds = time.perf_counter() - t0
    return result


# --- embeddings -------------------------------------------------------------------------------


def local_embeddings(embedder: Any) -> Any:
    """maint's embedder as a ragas ``BaseRagasEmbedding`` (what collections metrics require)."""
    return _embeddings_class()(embedder)


@cache
def _embeddings_class() -> type:
    # Defined lazily: the base class lives in ragas, which is imported only when scoring.
    _import_ragas()
    from ragas.embeddings.base import BaseRagasEmbedding

    class LocalEmbeddings(BaseRagasEmbedding):
        """Wraps ``embedder.embed``; vectors are memoised per text, so ``prime`` can embed
        all answers and references in one batch instead of one model call per text."""

        def __init__(self, embedder: Any):
            super().__init__(cache=None)
            self.embedder = embedder
            self._memo: dict[str, list[float]] = {}

        def prime(self, texts: Sequence[str]) -> None:
            self.embed_texts(list(texts))

        def embed_texts(self, texts: list[str], **kwargs: Any) -> list[list[float]]:
            missing = [t for t in dict.fromkeys(texts) if t not in self._memo]
            if missing:
                vectors = self.embedder.embed(missing)
                self._memo.update(zip(missing, (v.tolist() for v in vectors), strict=True))
            return [self._memo[t] for t in texts]

        def embed_text(self, text: str, **kwargs: Any) -> list[float]:
            return self.embed_texts([text])[0]

        async def aembed_text(self, text: str, **kwargs: Any) -> list[float]:
            return self.embed_text(text)

        async def aembed_texts(self, texts: list[str], **kwargs: Any) -> list[list[float]]:
            return self.embed_texts(texts)

    return LocalEmbeddings


# --- metrics ----------------------------------------------------------------------------------

Applies = Callable[[RagasSample], bool]
Scorer = Callable[[RagasSample], Awaitable[float]]


def _has_contexts(s: RagasSample) -> bool:
    return bool(s.contexts) and bool(s.reference_contexts)


def _has_ids(s: RagasSample) -> bool:
    return bool(s.context_ids) and bool(s.reference_context_ids)


def _has_reference(s: RagasSample) -> bool:
    return bool(s.reference.strip())


def _import_ragas() -> None:
    """Import ragas with tracking off, even if something imported it before this module set
    the switch (the check is cached on first use)."""
    os.environ["RAGAS_DO_NOT_TRACK"] = "true"
    import ragas._analytics

    ragas._analytics.do_not_track.cache_clear()


@cache
def _containment_class() -> type:
    """A non-LLM string comparison for the context metrics: how well the evidence matches its
    best-aligned window of a chunk. ragas' default (Levenshtein over whole strings) scores a
    1 500-character chunk against the one-sentence evidence it contains at ~0.05, below any
    threshold, so every context score would be 0."""
    _import_ragas()
    from langchain_core.callbacks import Callbacks
    from ragas.dataset_schema import SingleTurnSample
    from ragas.metrics.base import MetricType, SingleTurnMetric
    from ragas.run_config import RunConfig
    from rapidfuzz import fuzz

    @dataclass
    class ContainmentSimilarity(SingleTurnMetric):
        name: str = "containment_similarity"
        _required_columns: dict[MetricType, set[str]] = field(
            default_factory=lambda: {MetricType.SINGLE_TURN: {"reference", "response"}}
        )

        def init(self, run_config: RunConfig) -> None:
            pass

        async def _single_turn_ascore(self, sample: SingleTurnSample, callbacks: Callbacks):
            return fuzz.partial_ratio(sample.reference or "", sample.response or "") / 100

        async def _ascore(self, row: dict, callbacks: Callbacks) -> float:
            return await self._single_turn_ascore(SingleTurnSample(**row), callbacks)

    return ContainmentSimilarity


def _offline_metrics(embeddings: Any) -> dict[str, tuple[Applies, Scorer]]:
    from ragas.dataset_schema import SingleTurnSample
    from ragas.metrics.collections import NonLLMStringSimilarity, RougeScore, SemanticSimilarity

    with warnings.catch_warnings():  # no collections version of these four in 0.4.3
        warnings.simplefilter("ignore", DeprecationWarning)
        from ragas.metrics import (
            IDBasedContextPrecision,
            IDBasedContextRecall,
            NonLLMContextPrecisionWithReference,
            NonLLMContextRecall,
        )

    match = _containment_class()
    precision = NonLLMContextPrecisionWithReference(
        distance_measure=match(), threshold=CONTEXT_MATCH_THRESHOLD
    )
    recall = NonLLMContextRecall(_distance_measure=match(), threshold=CONTEXT_MATCH_THRESHOLD)
    id_precision, id_recall = IDBasedContextPrecision(), IDBasedContextRecall()
    string_similarity = NonLLMStringSimilarity()  # normalised Levenshtein
    rouge = RougeScore(rouge_type="rougeL", mode="fmeasure")
    semantic = SemanticSimilarity(embeddings=embeddings)

    def contexts(s: RagasSample) -> Any:
        return SingleTurnSample(
            retrieved_contexts=s.contexts, reference_contexts=s.reference_contexts
        )

    def ids(s: RagasSample) -> Any:
        return SingleTurnSample(
            retrieved_context_ids=s.context_ids, reference_context_ids=s.reference_context_ids
        )

    async def value(result: Awaitable[Any]) -> float:
        return (await result).value

    return {
        "context_precision": (_has_contexts, lambda s: precision.single_turn_ascore(contexts(s))),
        "context_recall": (_has_contexts, lambda s: recall.single_turn_ascore(contexts(s))),
        "id_context_precision": (_has_ids, lambda s: id_precision.single_turn_ascore(ids(s))),
        "id_context_recall": (_has_ids, lambda s: id_recall.single_turn_ascore(ids(s))),
        "string_similarity": (
            _has_reference,
            lambda s: value(string_similarity.ascore(reference=s.reference, response=s.answer)),
        ),
        "rouge_l": (
            _has_reference,
            lambda s: value(rouge.ascore(reference=s.reference, response=s.answer)),
        ),
        "semantic_similarity": (
            _has_reference,
            lambda s: value(semantic.ascore(reference=s.reference, response=s.answer)),
        ),
    }


def judge_llm(judge: Judge) -> tuple[Any, Any]:
    """(client, ragas LLM) for the judge endpoint; close the client when done.

    The client is explicit (base URL, key, timeout), so ragas never builds an OpenAI default.
    ``max_retries`` reaches instructor: the number of tries when a reply is not schema-valid.
    """
    _import_ragas()
    from openai import AsyncOpenAI
    from ragas.llms import llm_factory

    client = AsyncOpenAI(
        base_url=judge.url, api_key=judge.api_key, timeout=judge.timeout_s, max_retries=1
    )
    llm = llm_factory(
        judge.model,
        provider="openai",
        client=client,
        temperature=0.0,
        max_retries=max(1, judge.attempts),
    )
    return client, llm


def _judged_metrics(llm: Any, embeddings: Any) -> dict[str, tuple[Applies, Scorer]]:
    from ragas.metrics.collections import AnswerRelevancy, FactualCorrectness, Faithfulness

    faithfulness = Faithfulness(llm=llm)
    factual = FactualCorrectness(llm=llm)  # f1 of claims, answer vs reference
    relevancy = AnswerRelevancy(llm=llm, embeddings=embeddings)  # ResponseRelevancy, renamed

    def answered(s: RagasSample) -> bool:
        return bool(s.answer.strip()) and bool(s.question.strip())

    async def value(result: Awaitable[Any]) -> float:
        return (await result).value

    return {
        "faithfulness": (
            lambda s: answered(s) and bool(s.contexts),
            lambda s: value(
                faithfulness.ascore(
                    user_input=s.question, response=s.answer, retrieved_contexts=s.contexts
                )
            ),
        ),
        "factual_correctness": (
            lambda s: answered(s) and _has_reference(s),
            lambda s: value(factual.ascore(response=s.answer, reference=s.reference)),
        ),
        "answer_relevancy": (
            answered,
            lambda s: value(relevancy.ascore(user_input=s.question, response=s.answer)),
        ),
    }


# --- running ----------------------------------------------------------------------------------


async def _score_all(
    samples: list[RagasSample],
    embedder: Any,
    judge: Judge | None,
    progress: Callable[[int], None] | None,
) -> RagasResult:
    _import_ragas()
    embeddings = local_embeddings(embedder)
    embeddings.prime([t for s in samples for t in (s.answer, s.reference) if t])
    metrics = _offline_metrics(embeddings)
    client = None
    if judge is not None:
        client, llm = judge_llm(judge)
        metrics |= _judged_metrics(llm, embeddings)
    names = tuple(metrics)
    per_sample: list[dict[str, float | None]] = [dict.fromkeys(names) for _ in samples]
    failures, not_applicable = dict.fromkeys(names, 0), dict.fromkeys(names, 0)
    errors: dict[str, str] = {}
    done = 0
    # Offline metrics are CPU-only and quick; concurrency only helps while waiting on a judge.
    gate = asyncio.Semaphore(max(1, judge.concurrency) if judge else 1)

    async def one(i: int, sample: RagasSample) -> None:
        nonlocal done
        async with gate:
            for name, (applies, score) in metrics.items():
                if not applies(sample):
                    not_applicable[name] += 1
                    continue
                try:
                    v = float(await score(sample))
                except Exception as exc:  # a failed judgement is data, not a crash
                    errors.setdefault(name, f"{type(exc).__name__}: {exc}"[:500])
                    log.debug("ragas %s failed on sample %d: %s", name, i, exc)  # see errors
                    v = math.nan
                if math.isnan(v):
                    failures[name] += 1
                else:
                    # Cosines can dip below 0 and sums overshoot 1 by rounding.
                    per_sample[i][name] = min(1.0, max(0.0, v))
        done += 1
        if progress:
            progress(done)

    try:
        await asyncio.gather(*(one(i, s) for i, s in enumerate(samples)))
    finally:
        if client is not None:
            await client.close()
    return RagasResult(per_sample, failures, not_applicable, 0.0, names, errors)


T = TypeVar("T")


def _run_sync(coro: Coroutine[Any, Any, T]) -> T:
    """``asyncio.run``, or the same in a helper thread when called from a running loop."""
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return asyncio.run(coro)
    box: dict[str, Any] = {}

    def target() -> None:
        try:
            box["value"] = asyncio.run(coro)
        except BaseException as exc:
            box["error"] = exc

    worker = threading.Thread(target=target, name="ragas-scores")
    worker.start()
    worker.join()
    if "error" in box:
        raise box["error"]
    return box["value"]
