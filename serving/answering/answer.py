"""Question in, grounded answer out: retrieve, generate, then check every part number and
value against the sources before anything is shown as fact.

Modes: ``rag`` = base model + vector/keyword retrieval; ``ft`` = fine-tuned adapter, closed
book; ``hybrid`` = adapter (when one exists, else base) + vector + keyword + graph.

When the guard finds an unsupported item, the answer becomes a short quote of the source
(see ``serving.answering.extractive``) and the draft is kept aside with the items listed: a verbatim
line with its page is what a technician can check. Closed-book (``ft``) answers have no
sources to quote, so unsupported items are marked ``[unverified: …]`` in place.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable

from graph.base import GraphError
from maint.embed import Embedder
from maint.settings import Settings
from retrieval.graph_facts import GraphRetriever
from retrieval.hybrid import HybridRetriever, Retrieval
from retrieval.store import ChunkStore
from serving.answering import guard
from serving.answering.extractive import extractive_answer
from serving.answering.generate import Generator
from serving.answering.models import load_generator
from serving.answering.prompt import REFUSAL, build_messages, clean_question, closed_book_messages
from serving.answering.schema import Answer, Citation, Mode, Usage

_CITE = re.compile(r"\[(\d{1,2})\]")


class GeneratorPool:
    """One loaded model per adapter, loaded on first use and kept (loading takes seconds)."""

    def __init__(self, settings: Settings, factory: Callable[..., Generator] = load_generator):
        self.settings = settings
        self.factory = factory
        self._loaded: dict[str | None, Generator] = {}

    def adapter_for(self, mode: Mode, adapter: str | None) -> str | None:
        return None if mode == "rag" else (adapter or self.settings.adapter)

    def get(self, adapter: str | None) -> Generator:
        if adapter not in self._loaded:
            self._loaded[adapter] = self.factory(
                self.settings, adapter=adapter, use_adapter=adapter is not None
            )
        return self._loaded[adapter]


class Answerer:
    """Answers questions from one workspace's stores (open one with
    ``serving.answering.factory.open_answerer``)."""

    def __init__(
        self,
        settings: Settings,
        pg: ChunkStore,
        embedder: Embedder,
        graph: GraphRetriever | None,
        generators: GeneratorPool | None = None,
    ):
        self.settings = settings
        self.pg = pg
        self.embedder = embedder
        self.retriever = HybridRetriever(settings, pg, embedder, graph)
        self.generators = generators or GeneratorPool(settings)

    def ask(
        self,
        question: str,
        mode: Mode = "hybrid",
        adapter: str | None = None,
        show_context: bool = False,
    ) -> Answer:
        t_start = time.perf_counter()
        q, warnings = clean_question(question, self.settings.max_question_chars)
        if not q:
            raise ValueError("the question is empty; ask e.g. 'impeller nut torque P-200'")
        adapter = self.generators.adapter_for(mode, adapter)
        if mode != "rag" and adapter is None:
            warnings.append(
                f"no fine-tuned adapter configured: {mode} mode runs the base model "
                "(train one with `maint finetune train`, then pass --adapter or MAINT_ADAPTER)"
            )
        generator = self.generators.get(adapter)
        timings: dict[str, float] = {}

        if mode == "ft":
            retrieval = None
            messages = closed_book_messages(q)
        else:
            retrieval = self._retrieve(q, mode == "hybrid", warnings)
            timings.update({f"retrieve_{k}": v for k, v in retrieval.timings.items()})
            if not retrieval.relevant(self.settings.min_relevance):
                return self._finish(
                    q,
                    mode,
                    REFUSAL,
                    retrieval,
                    generator.name,
                    warnings,
                    timings,
                    t_start,
                    refused=True,
                    fallback="refusal",
                    show_context=show_context,
                )
            messages, removed = build_messages(q, retrieval.hits, retrieval.facts)
            if removed:
                warnings.append("instruction-like text in a manual was withheld from the model")

        t0 = time.perf_counter()
        gen = generator.generate(messages)
        timings["generate"] = time.perf_counter() - t0
        text = gen.text.strip() or REFUSAL

        t0 = time.perf_counter()
        verdict = guard.check(text, _sources(retrieval))
        if retrieval is not None:
            verdict = guard.check_citations(text, verdict, _per_source(retrieval))
        draft, fallback = None, None
        if not verdict.verified:
            quoted = extractive_answer(q, retrieval.hits, retrieval.facts) if retrieval else ""
            if quoted:
                draft, fallback, text = text, "extractive", quoted
            else:
                text = guard.mark_unsupported(text, verdict)
        timings["guard"] = time.perf_counter() - t0
        return self._finish(
            q,
            mode,
            text,
            retrieval,
            gen.model,
            warnings,
            timings,
            t_start,
            refused=_is_refusal(text),
            fallback=fallback,
            draft=draft,
            unsupported=[c.text for c in verdict.unsupported],
            verified=verdict.verified,
            usage=Usage(prompt_tokens=gen.prompt_tokens, completion_tokens=gen.completion_tokens),
            show_context=show_context,
        )

    def _retrieve(self, q: str, use_graph: bool, warnings: list[str]) -> Retrieval:
        try:
            return self.retriever.retrieve(q, use_graph=use_graph)
        except GraphError as exc:  # degrade to vector + keyword rather than fail
            warnings.append(f"graph store unavailable ({exc}); answered without graph facts")
            return self.retriever.retrieve(q, use_graph=False)

    def _finish(
        self,
        q: str,
        mode: Mode,
        text: str,
        retrieval: Retrieval | None,
        model: str,
        warnings: list[str],
        timings: dict[str, float],
        t_start: float,
        *,
        refused: bool,
        fallback: str | None = None,
        draft: str | None = None,
        unsupported: list[str] | None = None,
        verified: bool = True,
        usage: Usage | None = None,
        show_context: bool = False,
    ) -> Answer:
        hits = retrieval.hits if retrieval else []
        cited = {int(n) for n in _CITE.findall(text)}
        citations = [
            Citation(n=n, cited=n in cited, **{k: v for k, v in h.citation().items()})
            for n, h in enumerate(hits, start=1)
        ]
        timings["total"] = time.perf_counter() - t_start
        ms = {k: round(v * 1000, 1) for k, v in timings.items()}
        return Answer(
            question=q,
            answer=text,
            mode=mode,
            citations=citations,
            facts=[f.to_dict() for f in retrieval.facts] if retrieval else [],
            verified=verified,
            unsupported=unsupported or [],
            refused=refused,
            fallback=fallback,
            draft=draft,
            model=model,
            warnings=warnings,
            timings=ms,
            usage=usage or Usage(),
            context=[
                {**h.citation(), "n": n, "text": h.text, "score": h.score, "ranks": h.ranks}
                for n, h in enumerate(hits, start=1)
            ]
            if show_context
            else None,
        )


def _sources(retrieval: Retrieval | None) -> list[str]:
    if retrieval is None:
        return []
    # Titles and sections too: most chunks never repeat the machine's model name.
    return (
        [h.text for h in retrieval.hits]
        + [f"{h.document} {h.section}" for h in retrieval.hits]
        + [f.text for f in retrieval.facts]
    )


def _per_source(retrieval: Retrieval) -> dict[int, guard.SourceIndex]:
    """What each numbered excerpt supports: its text, title and section, and its facts."""
    return {
        n: guard.SourceIndex(
            [h.text, f"{h.document} {h.section}"]
            + [f.text for f in retrieval.facts if f.chunk_id == h.chunk_id]
        )
        for n, h in enumerate(retrieval.hits, start=1)
    }


def _is_refusal(text: str) -> bool:
    return "not in the documentation" in text.lower()
