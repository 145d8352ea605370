"""The answer text from the selected units, by question kind.

- Values, parts, intervals: each selected row or sentence verbatim, with its [n] and page. A
  sentence comes with the sentences either side of it in its chunk: manuals put the second
  half of a fact ("... and tighten the plug to 30 to 35 pound-inches") in the next sentence.
  A table row comes alone: the rows either side are other parts.
- Safety and explanations: the same, so a warning is quoted whole with what it warns about.
- Procedures: the chunk the best line stands in, line by line in the manual's order (steps,
  warnings and notes as printed), up to ``MAX_LINES``.
"""

from __future__ import annotations

from serving.answering.evidence import AnswerUnit
from serving.answering.kinds import QuestionKind
from serving.answering.prompt import neutralise

MAX_LINES = 20  # lines of a procedure quoted; a longer one ends with a pointer to its pages
PROSE = ("sentence", "safety")


def page_label(u: AnswerUnit) -> str:
    return f"p. {u.hit.pages}" if u.hit.page_start is not None else "no page"


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


def procedure_lines(best: AnswerUnit) -> list[str]:
    """The lines of the best unit's chunk, as printed, without instruction-like text."""
    text, _ = neutralise(best.hit.text)
    return [" ".join(line.split()) for line in text.splitlines() if line.strip()]


def compose(
    kind: QuestionKind, shown: list[AnswerUnit], numbers: dict[str, int]
) -> tuple[str, list[str]]:
    """The answer's text and the lines it quotes. ``numbers``: chunk id -> its [n]."""
    if kind == "procedure":
        first = shown[0]
        lines = procedure_lines(first)
        n = numbers[first.chunk_id]
        head = f"From {first.hit.section or first.hit.document} [{n}] ({page_label(first)}):"
        body = [f"- {line}" for line in lines[:MAX_LINES]]
        if len(lines) > MAX_LINES:
            body.append(f"- … {len(lines) - MAX_LINES} more lines in [{n}].")
        return "\n".join([head, *body]), lines[:MAX_LINES]
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
        f'"{" ".join(u.quote() for u in run)}" [{numbers[run[0].chunk_id]}] ({page_label(run[0])})'
        for run in runs
    ]
    return "\n".join(out), [u.quote() for u in shown]
