"""Question in, grounded answer out.

Modes: ``rag`` = base model + vector/keyword retrieval, the model writes the answer;
``ft`` = fine-tuned adapter, closed book; ``hybrid`` = vector + keyword + graph retrieval,
then evidence first: a selector picks the rows, sentences or warnings that answer
(``serving.answering.selector``), the answer quotes them verbatim with their pages, and the
adapter (when one exists, else the base model) may only add a one-sentence lead-in whose
numbers stand in those lines. No line scores above the selector's threshold: "not in the
documentation", with the closest sources.

A model's draft (rag, ft, a lead-in) that loops, echoes the prompt or is about something else
is never shown (``serving.answering.drafts``).

In rag mode, when the guard finds an unsupported item, the answer becomes a short quote of
the source (see ``serving.answering.extractive``) and the draft is kept aside with the items
listed: a verbatim line with its page is what a technician can check. Closed-book (``ft``)
answers have no sources to quote, so unsupported items are marked ``[unverified: …]``.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable

from graph.base import GraphError
from maint.embed import Embedder
from maint.settings import Settings
from retrieval.base import Hit
from retrieval.graph_facts import GraphRetriever
from retrieval.hybrid import HybridRetriever, Retrieval
from retrieval.store import ChunkStore
from serving.answering import guard
from serving.answering.compose import compose, procedure_chunks, shown_units
from serving.answering.drafts import degenerate
from serving.answering.evidence import Question, candidate_units, featurise
from serving.answering.extractive import extractive_answer
from serving.answering.generate import Generator
from serving.answering.models import load_generator
from serving.answering.prompt import (
    REFUSAL,
    build_messages,
    clean_question,
    closed_book_messages,
    lead_in_messages,
)
from serving.answering.schema import Answer, Citation, Evidence, Mode, Usage
from serving.answering.selector import Selector, load_selector, select

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
        selector: Selector | None = None,
    ):
        self.settings = settings
        self.pg = pg
        self.embedder = embedder
        self.retriever = HybridRetriever(settings, pg, embedder, graph)
        self.generators = generators or GeneratorPool(settings)
        self.selector = selector or load_selector(settings.data_dir)

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
            if mode == "hybrid":
                return self._evidence_answer(
                    q, retrieval, generator, warnings, timings, t_start, show_context
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
        problem = None if _is_refusal(text) else degenerate(text, q)
        if problem:  # never shown: the closest source lines, else a refusal
            warnings.append(f"the model's draft {problem}; it is not shown")
            quoted = extractive_answer(q, retrieval.hits, retrieval.facts) if retrieval else ""
            fallback, text = "extractive" if quoted else "refusal", quoted or REFUSAL
            verdict = guard.GuardResult(False, [], [])
        elif not verdict.verified:
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

    def _evidence_answer(
        self,
        q: str,
        retrieval: Retrieval,
        generator: Generator,
        warnings: list[str],
        timings: dict[str, float],
        t_start: float,
        show_context: bool,
    ) -> Answer:
        """Hybrid mode: the selected lines, quoted with their pages (see the module doc)."""
        s = self.settings
        t0 = time.perf_counter()
        question = Question.of(q)
        units = candidate_units(self.pg, retrieval, retrieval.embedding, s.answer_depth)
        featurise(question, units, retrieval, self.pg.term_weights(question.subject))
        picked = select(question, units, self.selector, most=s.answer_units)
        best = picked[0].score if picked else None
        timings["select"] = time.perf_counter() - t0
        if best is None or best < self.selector.threshold:
            closest = ", ".join(f"[{n}]" for n in range(1, min(3, len(retrieval.hits)) + 1))
            text = REFUSAL + (f" Closest sources: {closest}." if closest else "")
            return self._finish(
                q, "hybrid", text, retrieval, generator.name, warnings, timings, t_start,
                refused=True, show_context=show_context, confidence=best,
            )  # fmt: skip
        chunks = None
        if question.kind == "procedure":
            shown = picked[:1]
            chunks = procedure_chunks(picked[0], units)
            quoted = chunks
        else:
            shown = shown_units(picked, units)
            quoted = [u.hit for u in shown]
        hits = _sources_first(quoted, retrieval.hits, s.context_chunks)
        numbers = {h.chunk_id: n for n, h in enumerate(hits, start=1)}
        text, lines = compose(question.kind, shown, numbers, chunks)
        if any(u.withheld for u in units if u.chunk_id in numbers):
            warnings.append("instruction-like text in a manual was withheld from the answer")
        model, usage = "", Usage()
        if s.answer_lead_in:
            t0 = time.perf_counter()
            lead, model, usage = self._lead_in(q, lines, generator, warnings)
            timings["generate"] = time.perf_counter() - t0
            if lead:
                text = f"{lead}\n{text}"
        t0 = time.perf_counter()
        where = {n: [h.text, f"{h.document} {h.section}"] for n, h in enumerate(hits, start=1)}
        per_source = {n: guard.SourceIndex(texts) for n, texts in where.items()}
        every = [t for texts in where.values() for t in texts]
        verdict = guard.check_citations(text, guard.check(text, every), per_source)
        timings["guard"] = time.perf_counter() - t0
        evidence = [
            Evidence(
                n=numbers[u.chunk_id],
                text=u.quote(),
                kind=u.kind,
                document=u.hit.document,
                page=u.hit.page_start,
                pages=u.hit.pages,
                section=u.hit.section,
                score=round(u.score, 3),
            )
            for u in shown
        ]
        return self._finish(
            q, "hybrid", text, retrieval, model or generator.name, warnings, timings, t_start,
            refused=False, unsupported=[c.text for c in verdict.unsupported],
            verified=verdict.verified, usage=usage, show_context=show_context, hits=hits,
            evidence=evidence, confidence=best,
        )  # fmt: skip

    def _lead_in(
        self, q: str, lines: list[str], generator: Generator, warnings: list[str]
    ) -> tuple[str, str, Usage]:
        """One sentence above the quoted lines; its numbers can only be the lines' numbers
        (enforced while decoding), and a lead-in that loops, echoes the prompt, is off the
        question or names anything the lines do not hold is dropped."""
        gen = generator.generate(lead_in_messages(q, lines), max_new_tokens=32, numbers_from=lines)
        usage = Usage(prompt_tokens=gen.prompt_tokens, completion_tokens=gen.completion_tokens)
        lead = gen.text.strip().split("\n")[0].strip()
        problem = degenerate(lead, q) if lead else "is empty"
        if not problem and not guard.check(lead, lines).verified:
            problem = "names a value or part number the quoted lines do not hold"
        if problem or _is_refusal(lead):
            return "", gen.model, usage
        return lead, gen.model, usage

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
        hits: list[Hit] | None = None,
        evidence: list[Evidence] | None = None,
        confidence: float | None = None,
    ) -> Answer:
        if hits is None:
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
            evidence=evidence or [],
            confidence=confidence,
            context=[
                {**h.citation(), "n": n, "text": h.text, "score": h.score, "ranks": h.ranks}
                for n, h in enumerate(hits, start=1)
            ]
            if show_context
            else None,
        )


def _sources_first(first: list[Hit], context: list[Hit], most: int) -> list[Hit]:
    """The chunks the answer quotes, then the rest of the context, each once."""
    out = list({h.chunk_id: h for h in first + context}.values())
    return out[: max(most, len({h.chunk_id for h in first}))]


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
