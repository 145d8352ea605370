"""How questions and answers are worded: the question templates technicians' phrasings are
drawn from, and the helpers that turn graph rows into answer text exactly as the manual
writes it (values in both units, part numbers as written)."""

from __future__ import annotations

import hashlib
import random
import re
from collections.abc import Sequence

from ingestion.chunker import heading_title
from maint.identifiers import norm_part_number
from serving.answering.evidence import AnswerUnit


def normalise(text: str) -> str:
    """Lower case, punctuation and whitespace collapsed: how eval questions are compared."""
    return " ".join(re.sub(r"[\W_]+", " ", text.lower()).split())


def seeded_rng(seed: int, *what: str) -> random.Random:
    """One generator per decision, so adding a fact never reshuffles the others."""
    return random.Random("|".join([str(seed), *what]))


def short_hash(*parts: str) -> str:
    return hashlib.sha1("\0".join(parts).encode()).hexdigest()[:12]


def lower_first(text: str) -> str:
    """'Impeller nut' -> 'impeller nut'; 'NPSH required', 'O-ring' stay as written."""
    word = text.split(" ", 1)[0]
    if len(word) > 1 and word[1].isalpha() and word[1:] == word[1:].lower():
        return text[0].lower() + text[1:]
    return text


def topic_words(text: str) -> list[str]:
    stop = {"the", "and", "for", "with", "per", "max", "maximum", "minimum", "new", "from"}
    return [w for w in re.findall(r"[a-z][a-z-]{2,}", text.lower()) if w not in stop]


def contains_number(text: str, value: str) -> bool:
    return re.search(rf"(?<![\d.,]){re.escape(value)}(?![\d]|[.,]\d)", text) is not None


# -- question templates ------------------------------------------------------------------------
TIGHTEN = (
    "torque for the {s} on the {eq}?",
    "How tight should the {s} be on the {eq}?",
    "What's the torque spec for the {eq} {s}?",
    "What do I torque the {s} to on a {eq}?",
    "{eq} {s} torque?",
    "Tightening torque of the {s} on the {eq}?",
    "{eq}: what torque on the {s}?",
)
SPEC = (
    "What's the spec for the {s} on the {eq}?",
    "{eq} {s}?",
    "What is the {s} of the {eq}?",
    "What does the manual give for the {s} on the {eq}?",
    "Quick one: {s} for the {eq}?",
    "Need the {s} for our {eq}.",
    "What's the {eq} {s}?",
)
PART = (
    "Part number for the {n} on the {eq}?",
    "What's the P/N of the {eq} {n}?",
    "I need a new {n} for the {eq}. Which part do I order?",
    "{eq} {n} part no.?",
    "Which part number is the {n} of the {eq}?",
    "What do I order to replace the {n} on a {eq}?",
)
PART_NSN = ("NSN of the {eq} {n}?", "What's the stock number for the {n} on the {eq}?")
PART_REVERSE = ("What is part {pn} on the {eq}?", "{pn}: what is that part on the {eq}?")
PROCEDURE = (
    "What's the procedure for {t} on the {eq}?",
    "Walk me through {t} on the {eq}.",
    "{eq}: steps for {t}?",
    "What does the {eq} manual say about {t}? Step by step please.",
)
PROCEDURE_VERB = ("How do I {v} on the {eq}?", "What are the steps to {v} on a {eq}?")
SAFETY_TOPIC = (
    "Any safety warnings for {t} on the {eq}?",
    "What should I watch out for with {t} on the {eq}?",
    "{eq} {t}: what are the hazards?",
    "Is there anything safety-critical about {t} on the {eq}?",
)
SAFETY_GENERAL = (
    "What are the general safety warnings for the {eq}?",
    "Main safety rules before working on the {eq}?",
    "{eq}: general safety precautions?",
)
INTERVAL_VERB = (
    "How often do I {k} on the {eq}?",
    "When do I {k} on the {eq}?",
    "{eq}: how often to {k}?",
    "What's the interval to {k} on the {eq}?",
)
INTERVAL = (
    "When is the {k} due on the {eq}?",
    "{eq} interval for {k}?",
    "What's the service interval for {k} on the {eq}?",
)
TASK_VERBS = {
    "adjust",
    "change",
    "check",
    "clean",
    "drain",
    "flush",
    "grease",
    "inspect",
    "lubricate",
    "measure",
    "regrease",
    "replace",
    "retighten",
    "run",
    "service",
    "test",
    "tighten",
    "top",
}
FASTENER = re.compile(
    r"\b(bolts?|nuts?|locknuts?|screws?|plugs?|studs?|fittings?|valves?|clamps?|terminals?|"
    r"caps?)\b",
    re.I,
)
_STEP_NOISE = {"it", "them", "and", "if", "must", "than", "to", "until", "not", "is", "be"}


def pick(templates: Sequence[str], count: int, rng: random.Random, **values: str) -> list[str]:
    chosen = rng.sample(list(templates), min(max(count, 1), len(templates)))
    return [t.format(**values) for t in chosen]


def verb_phrase(title: str) -> str | None:
    """'Draining and refilling the system' -> 'drain and refill the system' (None: no gerund)."""
    words = title.split()

    def verb(word: str) -> str | None:
        if not word.lower().endswith("ing") or len(word) < 6:
            return None
        stem = word[:-3].lower()
        if re.search(r"([bdgmnprt])\1$", stem):
            return stem[:-1]  # stopping -> stop
        if re.search(r"(at|ur|ng|[cvz])$", stem):
            return stem + "e"  # replacing -> replace, lubricating -> lubricate
        return stem

    first = verb(words[0]) if words else None
    if first is None:
        return None
    words[0] = first
    if len(words) > 2 and words[1] == "and" and (second := verb(words[2])):
        words[2] = second
    return " ".join(words)


def spec_subject(parameter: str, table: bool, section: str) -> str | None:
    """The thing a spec is about, in the words a question uses; None when the extractor's
    parameter is a sentence fragment no technician would ask with."""
    p = " ".join(parameter.split())
    if table:
        if not re.search(r"[a-z]{3}", p):  # 'M1': only the table's heading says what it is
            topic = heading_title(section.rsplit(" > ", 1)[-1]) if section else ""
            return f"{lower_first(topic)} {p}" if topic else None
        if "," in p and "(" not in p:  # 'Weight, bare-shaft pump' -> 'weight (bare-shaft pump)'
            head, _, rest = p.partition(",")
            p = f"{head} ({rest.strip()})"
        return lower_first(p)
    torque = re.fullmatch(r"(?:the\s+)?(.+?)\s+torque", p, re.I)
    if torque:
        words = [w for w in torque.group(1).split() if w not in ("crosswise", "evenly")]
        if 1 <= len(words) <= 5 and not _STEP_NOISE.intersection(words):
            return " ".join(words)
        return None
    the = re.fullmatch(r"The\s+(.+)", p)
    if the:
        words = the.group(1).split()
        noise = _STEP_NOISE | {"between", "exceed", "reaches", "may", "of", "a"}
        if 2 <= len(words) <= 6 and not noise.intersection(w.lower() for w in words):
            return the.group(1)
    return None


def prose_cell(row_text: str, value: str) -> bool:
    """True when the table cell holding ``value`` is a sentence, not a quantity."""
    cells = row_text.split(" | ")[1:]
    cell = next((c for c in cells if contains_number(c, value)), "")
    return len(re.findall(r"[A-Za-z]{3,}", cell)) >= 4


def quantity_text(value: str, unit: str | None) -> str:
    return value if unit in (None, "", "—", "-") else f"{value} {unit}"


def spec_values(rows: list[dict]) -> str:
    """'95 N·m (70 lbf·ft)': values in the order the source line gives them, a conversion in
    brackets after the value it restates, different quantities joined with ' / '."""
    text = rows[0].get("text") or ""

    def position(r: dict) -> int:
        m = re.search(rf"(?<![\d.]){re.escape(str(r['value']))}(?![\d])", text)
        return m.start() if m else len(text)

    unique = {(str(r["value"]), r["unit"]): r for r in rows}.values()
    ordered = sorted(
        unique, key=lambda r: (position(r), r["unit"] != r["unit_si"], r["unit"] or "", r["value"])
    )
    by_measure: dict[str, list[str]] = {}
    for r in ordered:
        by_measure.setdefault(r["unit_si"] or r["unit"] or "", []).append(
            quantity_text(str(r["value"]), r["unit"])
        )
    parts = [q[0] + (f" ({' / '.join(q[1:])})" if len(q) > 1 else "") for q in by_measure.values()]
    return " / ".join(parts)


def parts_row(text: str, part_number: str) -> dict[str, str | None] | None:
    """The parts-list row of ``part_number`` in a chunk: description, NSN, qty as written."""
    lines = text.splitlines()
    header_at = next(
        (
            i
            for i, line in enumerate(lines)
            if " | " in line and re.search(r"part\s*(no|number|#)|p/n", line, re.I)
        ),
        None,
    )
    if header_at is None:
        return None
    header = [h.strip().lower() for h in lines[header_at].split("|")]

    def col(pattern: str) -> int | None:
        return next((i for i, h in enumerate(header) if re.search(pattern, h)), None)

    want = norm_part_number(part_number)
    for line in lines[header_at + 1 :]:
        cells = [c.strip() for c in line.split("|")]
        if len(cells) < 2 or not any(norm_part_number(c) == want for c in cells):
            continue

        def cell(i: int | None, cells: list[str] = cells) -> str | None:
            value = cells[i] if i is not None and i < len(cells) else ""
            return None if value in ("", "—", "-", "–", "n/a") else value

        return {
            "description": cell(col(r"description|nomenclature|name")),
            "nsn": cell(col(r"stock|nsn")),
            "qty": cell(col(r"qty|quantity")),
        }
    return None


def part_name(description: str) -> str:
    """'Element, air filter, primary' -> 'air filter element (primary)'."""
    segs = [s.strip() for s in re.sub(r"\(.*?\)", "", description).split(",") if s.strip()]
    if not segs:
        return lower_first(description.strip())
    head, rest = lower_first(segs[0]), segs[1:]
    if rest and not re.search(r"\d", rest[0]) and len(rest[0].split()) <= 2:
        head, rest = f"{lower_first(rest[0])} {head}", rest[1:]
    rest = [r for r in rest if len(r.split()) <= 3]
    return head + (f" ({', '.join(rest)})" if rest else "")


def cite(text: str, n: int) -> str:
    """'... lubricated threads.' -> '... lubricated threads [2].'"""
    body = text.rstrip()
    return f"{body[:-1]} [{n}]." if body.endswith(".") else f"{body} [{n}]"


_DIGITS = re.compile(r"\d[\d.,/-]*\d|\d")


def source_line(answer: str, units: Sequence[AnswerUnit], equipment: str = "") -> str | None:
    """The line of a chunk (its search units, as hybrid answers select them) an answer's
    values and part numbers were read from, quoted as a hybrid answer quotes it: a table row
    under its header ('Task: Check coupling alignment; Interval: every 4,000 operating
    hours'), else the sentence. The line must hold the answer's longest number (the part
    number, the value) and most of the others; None when none does (a procedure, a fact
    joined from several lines). The equipment's own digits ('P-200') are no value."""
    wanted = set(_DIGITS.findall(answer)) - set(_DIGITS.findall(equipment))
    if not wanted:
        return None
    key = max(sorted(wanted), key=len)
    best, best_n = None, len(wanted) / 2
    for u in units:
        held = wanted & set(_DIGITS.findall(u.text.split("\n", 1)[-1]))
        if key in held and len(held) >= best_n:
            best, best_n = u, len(held) + 0.5  # the first of equals: the manual's order
    return best.quote() if best else None
