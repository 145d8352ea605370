"""Graph retrieval: link the question's entities to graph nodes, pull their facts, and
return the chunks those facts were read from, with the facts attached.

Linking: part numbers (however spelled) by their compacted key, equipment by model name.
Facts: a part's description, NSN, supersession and the procedures that use it; for the
linked equipment (all equipment when none is named) its specs, parts, procedures with their
warnings, intervals and general warnings, ranked by how many of the question's words they
share (rarer words count more). Specs also answer to the quantity their unit measures, so
"torque" finds a row of a torque table whose own label says only "Impeller nut".
"""

from __future__ import annotations

import math
from collections import Counter, defaultdict
from dataclasses import dataclass, field, replace

from graph import cypher
from graph.base import GraphStore
from maint.units import MEASURE_WORDS
from retrieval.base import Fact, Hit
from retrieval.query import identifier_candidates, terms
from retrieval.store import ChunkStore

PART_LINK_SCORE = 10.0  # a part named by number outranks anything found by words


@dataclass
class _Candidate:
    fact: Fact
    words: list[str]
    chunks: list[str]
    score: float = 0.0
    scope: str = ""  # the key of the equipment the fact belongs to (scoped facts)


@dataclass
class GraphLookup:
    """What the graph said about a question: the links it made and the facts it found."""

    equipment: list[str] = field(default_factory=list)
    parts: list[str] = field(default_factory=list)
    facts: list[tuple[Fact, float]] = field(default_factory=list)
    chunks: dict[Fact, list[str]] = field(default_factory=dict)  # every chunk behind a fact

    def context_facts(self, chunk_ids: list[str]) -> list[Fact]:
        """The facts to show beside these excerpts, in excerpt order: those a chunk in the
        context backs and that were read from the context (so each can carry its [n]), plus
        linked parts wherever they were read. Hybrid answers and RAFT training data both use
        this, so the model is trained on the context it is later given."""
        in_context = set(chunk_ids)
        out: dict[Fact, None] = {}
        for chunk_id in chunk_ids:
            for fact, _ in self.facts:
                if chunk_id in self.chunks.get(fact, [fact.chunk_id]) and (
                    fact.chunk_id in in_context or fact.kind == "part"
                ):
                    out[fact] = None
        return list(out)


class GraphRetriever:
    name = "graph"

    def __init__(self, graph: GraphStore, pg: ChunkStore, max_facts: int = 12):
        self.graph = graph
        self.pg = pg
        self.max_facts = max_facts
        self._cached: tuple[str, _FactIndex] | None = None

    # -- linking and facts -------------------------------------------------------------
    def lookup(self, query: str) -> GraphLookup:
        index = self._index()
        ids = set(identifier_candidates(query))
        eq_keys = [k for k in index.equipment if k in ids]
        part_keys = [i for i in ids if i not in index.equipment]
        out = GraphLookup(equipment=[index.equipment[k] for k in eq_keys])
        q_terms = [t for t in terms(query) if t not in {"part", "number"}]

        linked = self._part_facts(part_keys)
        out.parts = list(dict.fromkeys(c.fact.subject for c in linked if c.fact.kind == "part"))
        scoped = index.matching(q_terms, eq_keys)
        ranked = sorted(linked + scoped, key=lambda c: -c.score)
        best = ranked[0].score if ranked else 0.0
        kept = [c for c in ranked if c.score >= 0.5 * best][: self.max_facts]
        out.facts = [(c.fact, c.score) for c in kept]
        out.chunks = {c.fact: c.chunks for c in kept}
        return out

    def _index(self) -> _FactIndex:
        """The equipment's facts, read from the graph once per version of the catalog: a
        question used to read them all (thousands of rows on five real manuals)."""
        version = self.pg.catalog_version()
        if self._cached is None or self._cached[0] != version:
            equipment = {r["key"]: r["name"] for r in self.graph.run(cypher.EQUIPMENT)}
            self._cached = (version, _FactIndex(equipment, self._scoped_facts()))
        return self._cached[1]

    def _part_facts(self, keys: list[str]) -> list[_Candidate]:
        if not keys:
            return []
        found: list[_Candidate] = []
        for r in self.graph.run(cypher.PARTS_BY_KEY, {"keys": keys}):
            pn = r["part_number"]
            text = f"Part {pn}"
            if r["description"]:
                text += f": {r['description']}"
            if r["nsn"]:
                text += f"; NSN {r['nsn']}"
            if r["equipment"]:
                text += f"; used on {', '.join(sorted(r['equipment']))}"
            if r["qty"]:
                text += f" (qty {', '.join(sorted(r['qty']))})"
            if r["superseded_by"]:
                text += f"; superseded by {', '.join(r['superseded_by'])}"
            if r["supersedes"]:
                text += f"; supersedes {', '.join(r['supersedes'])}"
            chunks = sorted(r["chunks"])
            fact = Fact("part", pn, text, chunks[0] if chunks else "")
            found.append(_Candidate(fact, [], chunks, PART_LINK_SCORE))
        for r in self.graph.run(cypher.PROCEDURES_USING_PARTS, {"keys": keys}):
            text = f"Procedure '{r['title']}' uses part {r['part']}"
            if r["warnings"]:
                text += ". " + " ".join(r["warnings"])
            fact = Fact("procedure", r["title"], text, r["chunk"])
            found.append(_Candidate(fact, [], [r["chunk"]], PART_LINK_SCORE * 0.8))
        return found

    def _scoped_facts(self) -> list[_Candidate]:
        """Every equipment's specs, parts, procedures, intervals and warnings, as candidates
        carrying their equipment's key."""
        p: dict = {"eq": []}
        found: list[_Candidate] = []
        specs: dict[tuple, list[dict]] = defaultdict(list)
        for r in self.graph.run(cypher.EQUIPMENT_SPECS, p):  # one fact per row, all its units
            key = (r["equipment_key"], r["equipment"], r["parameter"], r["condition"], r["chunk"])
            specs[key].append(r)
        for (eq_key, equipment, parameter, condition, chunk), rows in specs.items():
            si = [r for r in rows if r["unit"] == r["unit_si"]] or rows[:1]
            other = [r for r in rows if r not in si]
            value = " / ".join(f"{r['value']} {r['unit']}" for r in si)
            if other:
                value += " (" + " / ".join(f"{r['value']} {r['unit']}" for r in other) + ")"
            cond = f" ({condition})" if condition else ""
            text = f"{equipment} {parameter}{cond}: {value}"
            words = f"{parameter} {condition or ''} {MEASURE_WORDS.get(rows[0]['unit_si'], '')}"
            fact = Fact("spec", f"{equipment} {parameter}", text, chunk, value)
            found.append(_Candidate(fact, terms(words), [chunk], scope=eq_key))
        for r in self.graph.run(cypher.EQUIPMENT_PARTS, p):
            text = f"{r['equipment']} part {r['part_number']}: {r['description'] or ''}"
            if r["nsn"]:
                text += f"; NSN {r['nsn']}"
            if r["qty"]:
                text += f"; qty {r['qty']}"
            words = f"{r['description'] or ''} part number"
            fact = Fact("part", r["part_number"], text, sorted(r["chunks"])[0])
            chunks = sorted(r["chunks"])[:3]
            found.append(_Candidate(fact, terms(words), chunks, scope=r["equipment_key"]))
        for r in self.graph.run(cypher.EQUIPMENT_PROCEDURES, p):
            text = f"{r['equipment']} procedure '{r['title']}' ({r['steps']} steps)"
            if r["warnings"]:
                text += ". " + " ".join(r["warnings"])
            words = f"{r['title']} {r['section']} procedure how"
            fact = Fact("procedure", r["title"], text, r["chunk"])
            found.append(_Candidate(fact, terms(words), [r["chunk"]], scope=r["equipment_key"]))
        for r in self.graph.run(cypher.EQUIPMENT_INTERVALS, p):
            text = f"{r['equipment']} {r['task']}: {r['interval']}"
            fact = Fact("interval", r["task"], text, r["chunk"], r["interval"])
            words = terms(f"{r['task']} interval")
            found.append(_Candidate(fact, words, [r["chunk"]], scope=r["equipment_key"]))
        for r in self.graph.run(cypher.EQUIPMENT_WARNINGS, p):
            fact = Fact("warning", r["equipment"], r["text"], r["chunk"])
            words = terms(f"{r['text']} safety")
            found.append(_Candidate(fact, words, [r["chunk"]], scope=r["equipment_key"]))
        return found

    # -- the retriever protocol --------------------------------------------------------
    def retrieve(self, query: str, k: int) -> list[Hit]:
        return self.hits(self.lookup(query), k)

    def hits(self, lookup: GraphLookup, k: int) -> list[Hit]:
        """Chunks behind the facts; a chunk backing several matched facts ranks higher."""
        scores: dict[str, float] = defaultdict(float)
        facts: dict[str, list[Fact]] = defaultdict(list)
        for fact, score in lookup.facts:
            for chunk_id in lookup.chunks.get(fact, [fact.chunk_id]):
                scores[chunk_id] += score
                facts[chunk_id].append(fact)
        top = sorted(scores, key=lambda c: (-scores[c], c))[:k]
        rows = {r["chunk_id"]: r for r in self.pg.chunks_by_ids(top)}
        out = []
        for chunk_id in top:
            if chunk_id in rows:
                h = Hit.from_row(rows[chunk_id], self.name)
                h.score = scores[chunk_id]
                h.facts = facts[chunk_id]
                out.append(h)
        return out


class _FactIndex:
    """The equipment's facts with the words each holds, and per equipment how many facts
    hold each word: a question's facts are scored from the postings of its own words, with
    the same rarity weights as over the whole set in scope (the linked equipment's facts,
    or every fact when the question names none)."""

    def __init__(self, equipment: dict[str, str], candidates: list[_Candidate]):
        self.equipment = equipment  # key -> name
        self.candidates = candidates
        self.postings: dict[str, list[int]] = defaultdict(list)
        self.df: dict[str, Counter[str]] = defaultdict(Counter)  # equipment key -> word -> facts
        self.sizes: Counter[str] = Counter()
        self.length: list[float] = []
        for n, c in enumerate(candidates):
            words = set(c.words)
            for w in words:
                self.postings[w].append(n)
            self.df[c.scope].update(words)
            self.sizes[c.scope] += 1
            # normalised a little by the fact's length so a long warning does not win on volume
            self.length.append(math.sqrt(max(len(words), 4) / 4))

    def matching(self, q_terms: list[str], eq_keys: list[str]) -> list[_Candidate]:
        """Facts in scope sharing a word with the question, scored by the sum of those
        words' inverse document frequencies (in scope), in the order they were read."""
        scope = set(eq_keys) or set(self.sizes)
        n = sum(self.sizes[k] for k in scope)
        scores: dict[int, float] = defaultdict(float)
        for t in dict.fromkeys(q_terms):
            df = sum(self.df[k][t] for k in scope)
            if not df:
                continue
            idf = math.log(1 + n / df)
            for i in self.postings.get(t, ()):
                if self.candidates[i].scope in scope:
                    scores[i] += idf
        return [
            replace(self.candidates[i], score=scores[i] / self.length[i]) for i in sorted(scores)
        ]
