"""Facts mined from the graph for training, each with the questions asked about it and the
answer segments (text, source chunk) a correct answer is made of.

Specs, parts, procedures (with their warnings), section and machine safety warnings,
intervals, and unanswerable questions (another machine's parameter, or a model that does not
exist). Every random choice has its own generator, seeded by what is being decided.
"""

from __future__ import annotations

import re
from collections import defaultdict
from dataclasses import dataclass, field

from finetune.examples import DatasetConfig, Exclusions
from finetune.templates import (
    FASTENER,
    INTERVAL,
    INTERVAL_VERB,
    PART,
    PART_NSN,
    PART_REVERSE,
    PROCEDURE,
    PROCEDURE_VERB,
    SAFETY_GENERAL,
    SAFETY_TOPIC,
    SPEC,
    TASK_VERBS,
    TIGHTEN,
    contains_number,
    lower_first,
    normalise,
    part_name,
    parts_row,
    pick,
    prose_cell,
    quantity_text,
    seeded_rng,
    spec_subject,
    spec_values,
    topic_words,
    verb_phrase,
)
from graph import cypher
from graph.base import GraphStore
from ingestion.chunker import heading_title
from maint.identifiers import contains_compacted, norm_part_number
from retrieval.base import Hit
from retrieval.store import ChunkStore
from serving.answering.prompt import REFUSAL


@dataclass
class MinedFact:
    """One fact and the questions about it; ``segments`` are (answer text, source chunk)."""

    key: str  # split key: all examples of one key go to the same split
    kind: str
    equipment: str
    questions: list[str]
    segments: list[tuple[str, str]]
    bearing: set[str] = field(default_factory=set)  # chunks holding the answer: no distractors
    joiner: str = " "
    topic: str = ""  # what it is about ('impeller nut'), for questions about other machines
    asks: str = ""  # which question templates fit the topic: "spec", "tighten" or "part"

    @property
    def oracles(self) -> list[str]:
        return list(dict.fromkeys(c for _, c in self.segments if c))

    @property
    def answerable(self) -> bool:
        return self.kind != "unanswerable"


@dataclass
class Corpus:
    """The ingested chunks (as ``Hit``s, by id) and which documents each machine's are."""

    hits: dict[str, Hit]
    eq_docs: dict[str, set[str]]

    @classmethod
    def load(cls, pg: ChunkStore, graph: GraphStore) -> Corpus:
        ids = [c["id"] for d in pg.list_documents() for c in pg.chunks(d.id)]
        hits = {r["chunk_id"]: Hit.from_row(r, "vector") for r in pg.chunks_by_ids(ids)}
        eq_docs: dict[str, set[str]] = defaultdict(set)
        for r in graph.run(cypher.FT_EQUIPMENT_DOCUMENTS):
            eq_docs[r["name"]].update(r["documents"])
        return cls(hits, eq_docs)

    @property
    def chunk_ids(self) -> list[str]:
        return sorted(self.hits)

    def eq_texts(self) -> dict[str, list[str]]:
        """Each machine's chunk texts, lower-cased."""
        return {
            eq: [h.text.lower() for h in self.hits.values() if h.document_id in docs]
            for eq, docs in self.eq_docs.items()
        }


class FactMiner:
    """Reads the facts of one corpus out of the graph."""

    def __init__(
        self, graph: GraphStore, corpus: Corpus, config: DatasetConfig, excluded: Exclusions
    ):
        self.graph, self.cfg, self.drop = graph, config, excluded.drop
        self.hits, self.eq_docs, self.eq_texts = corpus.hits, corpus.eq_docs, corpus.eq_texts()

    def spec_facts(self) -> list[MinedFact]:
        groups: dict[tuple[str, str, str, str], list[dict]] = defaultdict(list)
        for r in self.graph.run(cypher.FT_SPECS):
            if r["chunk"] in self.hits:
                key = (r["equipment"], r["parameter"], r["condition"] or "", r["chunk"])
                groups[key].append(r)
        found: list[tuple[bool, str, str, str, str, list[dict]]] = []
        for (eq, parameter, condition, chunk), rows in sorted(groups.items()):
            rows.sort(key=lambda r: (str(r["value"]), r["unit"] or ""))
            table = " | " in (rows[0]["text"] or "")
            if table and prose_cell(rows[0]["text"], str(rows[0]["value"])):
                continue  # a number inside advice ('run at 75 % load until ...'): no spec
            subject = spec_subject(parameter, table, self.hits[chunk].section)
            if subject:
                found.append((table, eq, subject, condition, chunk, rows))

        def signature(rows: list[dict]) -> str:
            return "|".join(sorted({quantity_text(str(r["value"]), r["unit"]) for r in rows}))

        in_tables = {(eq, signature(rows)) for table, eq, *_, rows in found if table}
        bearing: dict[tuple[str, str], set[str]] = defaultdict(set)
        for _, eq, _, _, chunk, rows in found:
            bearing[(eq, signature(rows))].add(chunk)
        facts: dict[tuple[str, str, str], MinedFact] = {}
        # Table rows first: a step that restates a table value adds nothing but ambiguity.
        for table, eq, subject, condition, chunk, rows in sorted(
            found, key=lambda f: (not f[0], f[1], f[2], f[3], f[4])
        ):
            sig = signature(rows)
            same = (eq, normalise(subject), sig)
            if (not table and (eq, sig) in in_tables) or same in facts:
                continue  # the same fact stated twice: one is enough
            unit_si = next((r["unit_si"] for r in rows if r["unit_si"]), "")
            leaf = self.hits[chunk].section.rsplit(" > ", 1)[-1].lower()
            tighten = unit_si == "N·m" and bool(FASTENER.search(subject) or "torque" in leaf)
            cond = f", {lower_first(condition)}" if condition else ""
            if tighten:
                answer = f"Tighten the {subject} on the {eq} to {spec_values(rows)}{cond}."
            else:
                answer = f"The {subject} of the {eq} is {spec_values(rows)}{cond}."
            key = f"spec:{eq}:{sig}"
            rng = seeded_rng(self.cfg.seed, "phrasing", key, subject)
            templates = TIGHTEN if tighten else SPEC
            questions = pick(templates, self.cfg.phrasings, rng, s=subject, eq=eq)
            words = topic_words(subject)
            near = {
                c
                for c, h in self.hits.items()
                if any(contains_number(h.text, str(r["value"])) for r in rows)
                and any(w in h.text.lower() for w in words)
            }
            facts[same] = MinedFact(
                key,
                "spec",
                eq,
                questions,
                [(answer, chunk)],
                bearing[(eq, sig)] | near,
                topic=re.sub(r"\s*\(.*?\)", "", subject).strip(),
                asks="tighten" if tighten else "spec",
            )
        return list(facts.values())

    def part_facts(self) -> list[MinedFact]:
        facts = []
        rows = self.graph.run(cypher.EQUIPMENT_PARTS, {"eq": []})
        for r in sorted(rows, key=lambda r: (r["equipment"], r["part_number"])):
            eq, pn = r["equipment"], r["part_number"]
            docs = self.eq_docs.get(eq, set())
            mine = sorted(
                c
                for c in r["chunks"]
                if c in self.hits
                and self.hits[c].document_id in docs
                and contains_compacted(self.hits[c].text, pn)
            )
            if not mine:
                continue
            # The parts-list row of this machine's manual: its description, NSN, qty as written.
            listed = [(c, row) for c in mine if (row := parts_row(self.hits[c].text, pn))]
            chunk, row = listed[0] if listed else (mine[0], None)
            row = row or {"description": r["description"], "nsn": r["nsn"], "qty": r["qty"]}
            description = row["description"] or ""
            name = part_name(description) if description else ""
            details = [description] if description else []
            details += [f"NSN {row['nsn']}"] if row["nsn"] else []
            details += [f"qty {row['qty']}"] if row["qty"] else []
            thing = f"The {name} for the {eq}" if name else f"The part for the {eq}"
            answer = f"{thing} is P/N {pn}" + (f": {'; '.join(details)}." if details else ".")
            key = f"part:{norm_part_number(pn)}"
            rng = seeded_rng(self.cfg.seed, "phrasing", key, eq)
            templates = [*PART, *PART_REVERSE, *(PART_NSN if row["nsn"] else ())]
            plain = re.sub(r"\s*\(.*?\)", "", name).strip()
            questions = pick(
                templates if name else PART_REVERSE, self.cfg.phrasings, rng, n=name, eq=eq, pn=pn
            )
            bearing = {c for c, h in self.hits.items() if contains_compacted(h.text, pn)}
            fact = MinedFact(key, "part", eq, questions, [(answer, chunk)], bearing)
            fact.topic, fact.asks = plain, "part"
            facts.append(fact)
        return facts

    def _warning_segments(self, texts: dict[str, str], lead: str) -> list[tuple[str, str]]:
        """Warnings in manual order, one line each, the first under ``lead``."""
        ordered = sorted(texts.items(), key=lambda w: (w[1], self.hits[w[1]].text.find(w[0][:40])))
        return [((lead if i == 0 else "") + f"- {t}", c) for i, (t, c) in enumerate(ordered)]

    def _section_chunks(self, chunk: str) -> set[str]:
        hit = self.hits[chunk]
        return {
            c
            for c, h in self.hits.items()
            if h.document_id == hit.document_id and h.section == hit.section
        }

    def procedure_facts(self) -> list[MinedFact]:
        """Ordered steps plus the warnings attached to the procedure; its warnings alone also
        make a safety fact, under the same split key (one answer must not straddle splits)."""
        steps: dict[str, list[tuple[int, str]]] = defaultdict(list)
        for r in self.graph.run(cypher.FT_PROCEDURE_STEPS):
            steps[r["procedure"]].append((int(r["number"]), r["text"]))
        warnings: dict[str, dict[str, str]] = defaultdict(dict)
        for r in self.graph.run(cypher.FT_PROCEDURE_WARNINGS):
            if r["chunk"] in self.hits:
                texts = warnings[r["procedure"]]
                texts[r["text"]] = min(texts.get(r["text"], r["chunk"]), r["chunk"])
        procs: dict[str, dict] = {}
        for r in self.graph.run(cypher.FT_PROCEDURES):
            if r["chunk"] in self.hits and r["chunk"] < procs.get(r["key"], {}).get("chunk", "~"):
                procs[r["key"]] = r
        facts = []
        for key, r in sorted(procs.items()):
            eq, title, chunk = r["equipment"], r["title"], r["chunk"]
            t, verb = lower_first(title), verb_phrase(title)
            fact_key = f"procedure:{key}"
            templates = [*PROCEDURE, *(PROCEDURE_VERB if verb else ())]
            rng = seeded_rng(self.cfg.seed, "phrasing", fact_key)
            questions = pick(templates, self.cfg.phrasings, rng, t=t, v=verb or "", eq=eq)
            ordered = sorted(steps.get(key, []))
            if not ordered:
                detail = f"procedure {title!r} ({eq}) has no steps in the graph"
                self.drop(questions[0], "empty-answer", detail, fact=fact_key)
                continue
            block = f"{title} ({eq}):\n" + "\n".join(f"{n}. {text}" for n, text in ordered)
            texts = warnings.get(key, {})
            bearing = self._section_chunks(chunk) | set(texts.values())
            segments = [(block, chunk), *self._warning_segments(texts, "Safety warnings:\n")]
            facts.append(MinedFact(fact_key, "procedure", eq, questions, segments, bearing, "\n"))
            if texts:
                rng = seeded_rng(self.cfg.seed, "phrasing", fact_key, "safety")
                questions = pick(SAFETY_TOPIC, self.cfg.phrasings, rng, t=t, eq=eq)
                segments = self._warning_segments(texts, f"For {t} on the {eq}:\n")
                facts.append(MinedFact(fact_key, "safety", eq, questions, segments, bearing, "\n"))
        return facts

    def safety_facts(self) -> list[MinedFact]:
        """Warnings that belong to a machine, not a procedure, grouped by manual section."""
        groups: dict[tuple[str, str, str], dict[str, str]] = defaultdict(dict)
        for r in self.graph.run(cypher.EQUIPMENT_WARNINGS, {"eq": []}):
            hit = self.hits.get(r["chunk"])
            if hit is not None:
                texts = groups[(r["equipment"], hit.document_id, hit.section)]
                texts[r["text"]] = min(texts.get(r["text"], r["chunk"]), r["chunk"])
        facts = []
        for (eq, doc, section), texts in sorted(groups.items()):
            topic = lower_first(heading_title(section.rsplit(" > ", 1)[-1])) if section else ""
            general = not topic or "safety" in topic.lower()
            key = f"safety:{doc}:{section}"
            rng = seeded_rng(self.cfg.seed, "phrasing", key)
            templates = SAFETY_GENERAL if general else SAFETY_TOPIC
            questions = pick(templates, self.cfg.phrasings, rng, t=topic, eq=eq)
            lead = f"Safety on the {eq}" + ("" if general else f" ({topic})") + ":\n"
            segments = self._warning_segments(texts, lead)
            bearing = self._section_chunks(min(texts.values())) | set(texts.values())
            facts.append(MinedFact(key, "safety", eq, questions, segments, bearing, "\n"))
        return facts

    def interval_facts(self) -> list[MinedFact]:
        chunks: dict[tuple[str, str, str], str] = {}
        for r in self.graph.run(cypher.EQUIPMENT_INTERVALS, {"eq": []}):
            if r["chunk"] in self.hits:
                k = (r["equipment"], r["task"], r["interval"])
                chunks[k] = min(chunks.get(k, r["chunk"]), r["chunk"])
        facts = []
        for (eq, task, interval), chunk in sorted(chunks.items()):
            k = lower_first(task)
            key = f"interval:{eq}:{normalise(task)}"
            templates = INTERVAL_VERB if k.split(" ", 1)[0] in TASK_VERBS else INTERVAL
            rng = seeded_rng(self.cfg.seed, "phrasing", key, interval)
            questions = pick(templates, self.cfg.phrasings, rng, k=k, eq=eq)
            answer = f"{task} ({eq}): {interval}."
            bearing = {chunk} | {c for c, h in self.hits.items() if task.lower() in h.text.lower()}
            facts.append(MinedFact(key, "interval", eq, questions, [(answer, chunk)], bearing))
        return facts

    def unanswerable_pool(self, facts: list[MinedFact]) -> list[MinedFact]:
        """Plausible questions the corpus cannot answer: another machine's parameter or part
        asked of a machine whose manuals never mention it, or a model that does not exist."""
        owners: dict[tuple[str, str], set[str]] = defaultdict(set)  # (asks, topic) -> machines
        for f in facts:
            if f.topic and f.asks:
                owners[(f.asks, f.topic)].add(f.equipment)
        pool: dict[str, MinedFact] = {}

        templates = {"spec": SPEC, "tighten": TIGHTEN, "part": PART}

        def add(eq: str, asks: str, topic: str) -> None:
            key = f"unanswerable:{eq}:{normalise(topic)}"
            template = seeded_rng(self.cfg.seed, "phrasing", key).choice(templates[asks])
            question = template.format(eq=eq, s=topic, n=topic)
            pool.setdefault(key, MinedFact(key, "unanswerable", eq, [question], [(REFUSAL, "")]))

        def absent(topic: str, texts: list[str]) -> bool:
            words = topic_words(topic)
            return any(len(w) >= 4 for w in words) and not any(
                all(w in t for w in words) for t in texts
            )

        for eq, texts in sorted(self.eq_texts.items()):
            for (asks, topic), have in sorted(owners.items()):
                if eq not in have and absent(topic, texts):
                    add(eq, asks, topic)
        every_text = [h.text.lower() for h in self.hits.values()]
        for eq in sorted(self.eq_texts):  # a model the corpus does not cover at all
            m = re.fullmatch(r"([A-Z]+-)(\d+)", eq)
            if not m:
                continue
            rng = seeded_rng(self.cfg.seed, "fake-model", eq)
            fake = f"{m.group(1)}{int(m.group(2)) + rng.choice((25, 50, 100, 150))}"
            if fake in self.eq_texts or any(fake.lower() in t for t in every_text):
                continue
            mine = sorted((asks, topic) for (asks, topic), have in owners.items() if eq in have)
            for asks, topic in rng.sample(mine, min(3, len(mine))):
                add(fake, asks, topic)
        return [pool[k] for k in sorted(pool)]
