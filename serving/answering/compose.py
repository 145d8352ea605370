"""The answer text from the selected units, by question kind.

- Values, parts, intervals: each selected row or sentence verbatim, with its [n] and page. A
  sentence comes with the sentences either side of it in its chunk: manuals put the second
  half of a fact ("... and tighten the plug to 30 to 35 pound-inches") in the next sentence.
  A table row comes alone: the rows either side are other parts.
- Safety and explanations: the same, so a warning is quoted whole with what it warns about.
- Procedures: the chunks of the best line's section among the candidates, in the manual's
  order, line by line (steps, warnings and notes as printed), up to ``MAX_LINES``: a chunker
  often cuts a procedure's introduction from its steps, and the torque is in the steps.
"""

from __future__ import annotations

from retrieval.base import Hit
from serving.answering.evidence import AnswerUnit
from serving.answering.kinds import QuestionKind
from serving.answering.prompt import neutralise

MAX_LINES = 20  # lines of a procedure quoted; a longer one ends with a pointer to its pages
PROSE = ("sentence", "safety")


def hit_page(hit: Hit) -> str:
    return f"p. {hit.pages}" if hit.page_start is not None else "no page"


def quoted(text: str, n: int, hit: Hit) -> str:
    """One quoted line of an answer: '"…" [2] (p. 14)' (the fine-tuning data writes its
    answers the same way)."""
    return f'"{text}" [{n}] ({hit_page(hit)})'


def shown_units(picked: list[AnswerUnit], units: list[AnswerUnit]) -> list[AnswerUnit]:
    """The selected units, each prose one with its neighbours in the chunk, in reading order
    within a chunk, chunks in the order their best unit was selected."""
    out: list[AnswerUnit] = []
    for u in picked:
        same = sorted((x for x in units if x.chunk_id == u.chunk_id), key=lambda x: x.ordinal)
        at = same.index(u)
        near = [x for x in same[max(0, at - 1) : at + 2] if x is u or x.kind in PROSE]
        for x in near if u.kind in PROSE else [u]:
            if x not in out:
                out.append(x)
    order = {c: i for i, c in enumerate(dict.fromkeys(u.chunk_id for u in out))}
    return sorted(out, key=lambda x: (order[x.chunk_id], x.ordinal))


def procedure_chunks(best: AnswerUnit, units: list[AnswerUnit]) -> list[Hit]:
    """The candidate chunks of the best unit's document and section, in the manual's order
    (chunk ids number a document's chunks), the best unit's own first among equals."""
    same = {
        u.chunk_id: u.hit
        for u in units
        if u.hit.document_id == best.hit.document_id and u.hit.section == best.hit.section
    }
    same.setdefault(best.chunk_id, best.hit)
    return [same[c] for c in sorted(same)]


def procedure_lines(hits: list[Hit]) -> list[tuple[Hit, str]]:
    """The lines of the chunks, as printed, without instruction-like text."""
    out: list[tuple[Hit, str]] = []
    for h in hits:
        text, _ = neutralise(h.text)
        out.extend((h, " ".join(line.split())) for line in text.splitlines() if line.strip())
    return out


def compose(
    kind: QuestionKind,
    shown: list[AnswerUnit],
    numbers: dict[str, int],
    chunks: list[Hit] | None = None,
) -> tuple[str, list[str]]:
    """The answer's text and the lines it quotes. ``numbers``: chunk id -> its [n];
    ``chunks``: a procedure's chunks in order (``procedure_chunks``)."""
    if kind == "procedure":
        first = shown[0]
        lines = procedure_lines(chunks or [first.hit])
        cited = list(dict.fromkeys(numbers[h.chunk_id] for h, _ in lines))
        refs = "".join(f"[{n}]" for n in cited)
        head = f"From {first.hit.section or first.hit.document} {refs} ({hit_page(first.hit)}):"
        body = [f"- {line}" for _, line in lines[:MAX_LINES]]
        if len(lines) > MAX_LINES:
            rest = "".join(
                f"[{n}]" for n in dict.fromkeys(numbers[h.chunk_id] for h, _ in lines[MAX_LINES:])
            )
            body.append(f"- … {len(lines) - MAX_LINES} more lines in {rest}.")
        return "\n".join([head, *body]), [line for _, line in lines[:MAX_LINES]]
    runs: list[list[AnswerUnit]] = []  # consecutive prose of one chunk reads as one quote
    for u in shown:
        prev = runs[-1][-1] if runs else None
        if (
            prev is not None
            and prev.chunk_id == u.chunk_id
            and prev.kind in PROSE
            and u.kind in PROSE
            and u.ordinal == prev.ordinal + 1
        ):
            runs[-1].append(u)
        else:
            runs.append([u])
    out = [
        quoted(" ".join(u.quote() for u in run), numbers[run[0].chunk_id], run[0].hit)
        for run in runs
    ]
    return "\n".join(out), [u.quote() for u in shown]
