"""From parsed elements to blocks to chunks, following the manual's structure.

Headings give every block its section path. A numbered list is a procedure (one block, with
any warning or note that sits between its steps); a table and a safety statement are one
block each. Blocks are packed into chunks up to ``chunk_tokens`` within one section; a block
is never cut, except a table longer than ``max_chunk_tokens``, which is split at row
boundaries with its header repeated, and plain prose longer than a chunk, which is split at
sentence boundaries with some overlap.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING

from maint.domain import Block, BlockKind, Chunk, Element, ParsedDocument, SearchUnit
from maint.identifiers import PART_COLUMN

if TYPE_CHECKING:
    from maint.settings import Settings

TokenCounter = Callable[[str], int]

SIGNAL = re.compile(r"^\s*(DANGER|WARNING|CAUTION|NOTE)\b\s*[:\-–—]?\s*", re.IGNORECASE)
_HEADING_NUMBER = re.compile(r"^\d+(?:\.\d+)*\.?\s+")
_SENTENCE = re.compile(r"(?<=[.!?])\s+(?=[A-Z(])")


def heading_title(text: str) -> str:
    """'7.6 Replacing the mechanical seal' -> 'Replacing the mechanical seal'."""
    return _HEADING_NUMBER.sub("", text).strip()


def render_table(rows: list[list[str]]) -> str:
    return "\n".join(" | ".join(cell for cell in row) for row in rows)


def _signal(text: str) -> str | None:
    m = SIGNAL.match(text)
    if not m:
        return None
    word = m.group(1)
    # Signal words are capitalised in manuals; "Note that…" or "Caution is…" are prose.
    return word.upper() if word.isupper() else None


# What ends a safety statement's run: a step label, a frame direction.
_NOT_NOTICE_BODY = re.compile(r"^(?:\(?\d{1,2}[.)]|\(?[a-z][.)]\s|GO TO FRAME|FRAME\b)")
# Left on a page by the parser, not text: illustration numbers ('TA103570'), page labels.
_PAGE_MARK = re.compile(r"^(?:[A-Z]{1,3} ?\d{5,6}|[a-z]/\([a-z] blank\)|\d+-\d+)$")


def _notice(elements: list[Element], i: int) -> tuple[int, str]:
    """A signal-word paragraph and what else belongs to its statement. A bare 'NOTE' takes
    the bulleted list under it. Sentences after a statement belong to it when they run to
    the first step of a procedure (a note over a procedure) or, for a warning or a note
    that announces more, to the end of the page (a warning page); prose that goes on to a
    heading, a table or another statement does not."""
    first = elements[i]
    head = first.text.strip()
    j = i + 1
    if not SIGNAL.sub("", head, count=1).strip():
        bullets = []
        while j < len(elements) and elements[j].kind == "list_item" and elements[j].number is None:
            bullets.append(f"• {elements[j].text.strip()}")
            j += 1
        return j, " ".join([f"{head}:", *bullets]) if bullets else head
    more: list[str] = []
    k = j
    # A note is one paragraph unless it announces more ('The following definitions …:');
    # a warning or caution may run over several.
    body = SIGNAL.sub("", head, count=1)
    announces = _signal(head) != "NOTE" or re.search(r"\bfollowing\b|:\s", body)
    while k < len(elements):
        el = elements[k]
        if el.page != first.page:
            if not announces:
                return j, head
            break
        if el.kind == "list_item" and el.number == 1:
            break
        if el.kind != "paragraph" or _signal(el.text) or _NOT_NOTICE_BODY.match(el.text):
            return j, head
        if not _PAGE_MARK.match(el.text.strip()):
            if len(el.text.split()) < 5:
                return j, head
            more.append(el.text.strip())
        k += 1
    if k == len(elements) and not announces:  # the document's end is a page's end
        return j, head
    return (k, " ".join([head, *more])) if more else (j, head)


def to_blocks(doc: ParsedDocument) -> list[Block]:
    blocks: list[Block] = []
    stack: list[tuple[int, str]] = []  # (level, heading text)
    elements = doc.elements
    i = 0

    def section() -> list[str]:
        return [text for _, text in stack]

    while i < len(elements):
        el = elements[i]
        if el.kind == "heading":
            while stack and stack[-1][0] >= el.level:
                stack.pop()
            stack.append((el.level, el.text))
            i += 1
            continue
        title = heading_title(stack[-1][1]) if stack else None

        def block(
            kind: BlockKind, text: str, el: Element = el, title: str | None = title, **extra
        ) -> Block:
            return Block(
                kind=kind,
                section=section(),
                page_start=el.page,
                page_end=el.page,
                text=text,
                title=title,
                **extra,
            )

        if (el.kind == "list_item" and el.number is not None) or _starts_steps(
            elements, i, section()
        ):
            end, procedure = _procedure(elements, i, section(), title)
            if end > i:
                blocks.append(procedure)
                i = end
                continue
        if el.kind == "list_item":
            items: list[Element] = []
            while (
                i < len(elements)
                and elements[i].kind == "list_item"
                and (elements[i].number is None)
            ):
                items.append(elements[i])
                i += 1
            bullets = block("list", "\n".join(f"- {e.text}" for e in items))
            blocks.append(bullets.model_copy(update={"page_end": items[-1].page}))
            continue
        signal = _signal(el.text)
        if signal and el.kind == "paragraph":
            end, text = _notice(elements, i)
            body = SIGNAL.sub("", text, count=1)
            if signal == "NOTE":
                blocks.append(block("note", f"NOTE: {body}"))
            else:
                blocks.append(block("warning", f"{signal}: {body}", level=signal))
            i = end
            continue
        body = SIGNAL.sub("", el.text, count=1)
        if el.kind == "table":
            blocks.append(block("table", render_table(el.rows or []), rows=el.rows or []))
        elif signal in ("DANGER", "WARNING", "CAUTION"):
            blocks.append(block("warning", f"{signal}: {body}", level=signal))
        elif signal == "NOTE":
            blocks.append(block("note", f"NOTE: {body}"))
        else:
            blocks.append(block("paragraph", el.text))
        i += 1
    return blocks


# Inside a procedure and not text of it: a figure caption or reference, an illustration
# number, a page label.
_FIGURE_LINE = re.compile(
    r"^(?:\(?(?:Figure|FIGURE|Fig\.) [\w-]+[.)]?.*|TA ?\d{5,6}.*|[A-Z]? ?\[? ?TA ?\d+)$"
)
# A sub-step under a numbered step: '(a) Place nozzle …', '(b) When space is filled …'.
_SUB_STEP = re.compile(r"^\(?[a-z]\)\s+\S")
_CONTINUED = re.compile(r"\s*\((?:cont|cent|continued)[^)]*\)\.?\s*$", re.I)


_LETTERED = re.compile(r"^([a-z])\.\s+([A-Z(].*)$")
# A callout that wrapped to the start of a line: '(6) must read about 28 volts' is the
# previous step going on, not step 6.
_WRAPPED = re.compile(r"^(?:\(\d{1,2}\)\s+)?[a-z]")


def _lettered(el: Element, expected: int) -> str | None:
    """Steps lettered 'a.', 'b.', … as work packages print them: the text of step
    ``expected`` (1 = 'a')."""
    m = _LETTERED.match(el.text) if el.kind == "paragraph" else None
    return m.group(2) if m and ord(m.group(1)) - 96 == expected else None


# A numbered paragraph ('16. MODIFICATION IDENTIFICATION', '3-5. Service …'): its 'a.', 'b.'
# are sub-paragraphs, not steps.
_NUMBERED_PARAGRAPH = re.compile(r"^\d+(?:-\d+)?\.\s")


def _starts_lettered(elements: list[Element], i: int, section: list[str] | None = None) -> bool:
    """'a. …' starts lettered steps when 'b. …' follows, past any safety statements, unless
    the letters subdivide a numbered paragraph."""
    if not _lettered(elements[i], 1) or (section and _NUMBERED_PARAGRAPH.match(section[-1])):
        return False
    j = i + 1
    while j < len(elements) and elements[j].kind == "paragraph" and _signal(elements[j].text):
        j = _notice(elements, j)[0]
    return j < len(elements) and _lettered(elements[j], 2) is not None


def _ocr_step(el: Element, expected: int) -> str | None:
    """A step whose label OCR misread ('4, Turn …', '10 Check …' for '1. Check …'): the
    step's text, where the paragraph sits where step ``expected`` should."""
    if el.kind != "paragraph":
        return None
    m = re.match(rf"^{expected}(?:[,.]|0)?\s+([A-Z].*)$", el.text)
    return m.group(1) if m else None


def _starts_steps(elements: list[Element], i: int, section: list[str] | None = None) -> bool:
    """A paragraph that starts steps: 'a.' with a 'b.' after it, or a step 1 whose label
    OCR misread, with step 2 after it (past any safety statement)."""
    if _starts_lettered(elements, i, section):
        return True
    if not _ocr_step(elements[i], 1):
        return False
    j = i + 1
    while j < len(elements) and elements[j].kind == "paragraph" and _signal(elements[j].text):
        j = _notice(elements, j)[0]
    return j < len(elements) and elements[j].kind == "list_item" and elements[j].number == 2


def _running_head(el: Element, section: list[str]) -> bool:
    """A heading repeated at the top of a page ('3-5. Service Upon Receipt (cont)')."""
    if el.kind != "heading":
        return False
    text = _CONTINUED.sub("", el.text).strip()
    return any(_CONTINUED.sub("", s).strip() == text for s in section)


def _page_head(elements: list[Element], i: int, page: int | None, expected: int) -> bool:
    """A heading at the top of the next page with step ``expected`` under it: the page's
    running head, not the end of the procedure."""
    el = elements[i]
    if el.kind != "heading" or el.page == page:
        return False
    j = i + 1
    while (
        j < len(elements)
        and elements[j].kind == "paragraph"
        and _FIGURE_LINE.match(elements[j].text.strip())
    ):
        j += 1
    nxt = elements[j] if j < len(elements) else None
    return nxt is not None and nxt.kind == "list_item" and nxt.number == expected


# Verbs a step starts with; a numbered list none of whose items starts with one, and none of
# whose items is a sentence, names things ('1 Material Change Number (MCN)', '2 MWO number').
_STEP_VERB = re.compile(
    r"^(?:using|remove|install|check|disconnect|connect|tighten|loosen|turn|set|place|"
    r"position|apply|clean|inspect|measure|drill|insert|attach|open|close|lift|lower|raise|"
    r"press|pull|push|put|take|replace|secure|mark|cut|fill|drain|start|stop|run|read|"
    r"record|verify|ensure|make|use|locate|route|hold|repeat|do|perform|get|touch|adjust|"
    r"align|lubricate|paint|sand|mix|wipe|allow|wait|slide|rotate|unhook|hook|fabricate|"
    r"test|bleed|add|select|return|release|engage|disengage|reinstall|assemble|disassemble)\b",
    re.I,
)


def _is_list(items: list[str]) -> bool:
    """Numbered short labels without a sentence or a step's verb are a list of things, not
    steps to do."""
    return len(items) > 2 and all(
        len(t.split()) <= 8 and not t.endswith(".") and not _STEP_VERB.match(t) for t in items
    )


def _procedure(
    elements: list[Element], i: int, section: list[str], title: str | None
) -> tuple[int, Block]:
    """Collect numbered steps 1..n, with the warnings, notes and sub-steps between them;
    figure captions and running heads in between are skipped."""
    steps: list[str] = []
    lines: list[str] = []
    line_pages: list[int | None] = []
    pages = [elements[i].page]
    expected = elements[i].number or 1
    lettered = _starts_lettered(elements, i, section)
    while i < len(elements):
        el = elements[i]
        if lettered:
            text = _lettered(el, expected)
        else:
            text = el.text if el.kind == "list_item" and el.number == expected else None
        if text is None and not lettered and (steps or expected == 1):
            ocr = _ocr_step(el, expected)
            if ocr and (steps or _starts_steps(elements, i, section)):
                text = ocr
        if text is not None:
            steps.append(text)
            lines.append(f"{expected}. {text}")
            line_pages.append(el.page)
            expected += 1
            pages.append(el.page)
            i += 1
            continue
        if steps and (
            _running_head(el, section)
            or _page_head(elements, i, line_pages[-1], expected)
            or (el.kind == "paragraph" and _FIGURE_LINE.match(el.text.strip()))
        ):
            i += 1
            continue
        if steps and el.kind in ("paragraph", "list_item") and _SUB_STEP.match(el.text):
            lines.append(f"   {el.text}")
            line_pages.append(el.page)
            i += 1
            continue
        if steps and el.kind in ("paragraph", "list_item") and _WRAPPED.match(el.text):
            wrapped = re.sub(r"^\(\d{1,2}\)\s+", "", el.text)
            steps[-1] = f"{steps[-1]} {wrapped}"
            lines[-1] = f"{lines[-1]} {wrapped}"
            i += 1
            continue
        # Safety statements and notes between two steps stay inside the procedure.
        if el.kind == "paragraph" and _signal(el.text):
            k, notices = i, []
            while k < len(elements) and elements[k].kind == "paragraph":
                if _signal(elements[k].text):
                    k, text = _notice(elements, k)
                    notices.append((text, elements[k - 1].page))
                elif _FIGURE_LINE.match(elements[k].text.strip()):
                    k += 1
                else:
                    break
            while k < len(elements) and _running_head(elements[k], section):
                k += 1
            nxt = elements[k] if k < len(elements) else None
            if nxt is not None and (
                (nxt.kind == "list_item" and nxt.number == expected and not lettered)
                or (not lettered and _ocr_step(nxt, expected))
                or (lettered and _lettered(nxt, expected))
            ):
                for text, page in notices:
                    lines.append(text)
                    line_pages.append(page)
                i = k
                continue
        break
    known = [p for p in pages if p is not None]
    if len(steps) == 1 and expected - 1 > 1 and not lettered:
        kind = "paragraph"  # a lone 'n.' far from 1 ('47. Delamination Repair.', OCR of '4-7.')
    else:
        kind = "list" if _is_list(steps) else "procedure"
    return i, Block(
        kind=kind,
        section=section,
        page_start=min(known) if known else None,
        page_end=max(known) if known else None,
        text="\n".join(lines),
        steps=steps if kind == "procedure" else [],
        line_pages=line_pages,
        title=title,
    )


def _split_prose(text: str, limit: int, overlap: int, count: TokenCounter) -> list[str]:
    sentences = _SENTENCE.split(text)
    parts: list[str] = []
    current: list[str] = []
    for sentence in sentences:
        if current and count(" ".join([*current, sentence])) > limit:
            parts.append(" ".join(current))
            # Carry the last sentences (up to ``overlap`` tokens) into the next part.
            carry: list[str] = []
            for s in reversed(current):
                if count(" ".join([s, *carry])) > overlap:
                    break
                carry.insert(0, s)
            current = carry
        current.append(sentence)
    if current:
        parts.append(" ".join(current))
    return parts


def _split_table(block: Block, limit: int, count: TokenCounter) -> list[Block]:
    header, body = block.rows[0], block.rows[1:]
    pieces: list[Block] = []
    rows: list[list[str]] = []
    for row in body:
        if rows and count(render_table([header, *rows, row])) > limit:
            pieces.append(
                block.model_copy(
                    update={"rows": [header, *rows], "text": render_table([header, *rows])}
                )
            )
            rows = []
        rows.append(row)
    if rows:
        pieces.append(
            block.model_copy(
                update={"rows": [header, *rows], "text": render_table([header, *rows])}
            )
        )
    return pieces


def _pieces(
    blocks: list[Block], chunk_tokens: int, overlap: int, max_tokens: int, count: TokenCounter
) -> Iterator[Block]:
    """Blocks made small enough to chunk: long prose and huge tables are split."""
    for block in blocks:
        size = count(block.text)
        if block.kind == "paragraph" and size > chunk_tokens:
            for part in _split_prose(block.text, chunk_tokens, overlap, count):
                yield block.model_copy(update={"text": part})
        elif block.kind == "table" and size > max_tokens and len(block.rows) > 2:
            yield from _split_table(block, max_tokens, count)
        else:
            yield block


def chunk_blocks(
    doc_id: str,
    blocks: list[Block],
    count: TokenCounter,
    chunk_tokens: int = 200,
    overlap: int = 30,
    max_tokens: int = 600,
    document: str = "",
) -> list[Chunk]:
    chunks: list[Chunk] = []
    group: list[Block] = []
    size = 0

    def close() -> None:
        nonlocal group, size
        if not group:
            return
        text = "\n\n".join(b.text for b in group)
        pages = [p for b in group for p in (b.page_start, b.page_end) if p is not None]
        ordinal = len(chunks)
        chunks.append(
            Chunk(
                id=f"{doc_id}:{ordinal:04d}",
                document_id=doc_id,
                ordinal=ordinal,
                section=group[0].section,
                page_start=min(pages) if pages else None,
                page_end=max(pages) if pages else None,
                text=text,
                tokens=count(text),
                blocks=list(group),
                units=search_units(group),
                document=document,
            )
        )
        group, size = [], 0

    for piece in _pieces(blocks, chunk_tokens, overlap, max_tokens, count):
        piece_size = count(piece.text)
        if group and (piece.section != group[0].section or size + piece_size > chunk_tokens):
            close()
        group.append(piece)
        size += piece_size
    close()
    return chunks


def chunk_document(
    doc_id: str, parsed: ParsedDocument, count: TokenCounter, settings: Settings
) -> list[Chunk]:
    """A parsed manual's chunks as ``maint ingest`` makes them: the settings' sizes, and the
    manual's title as the root of every search path."""
    return chunk_blocks(
        doc_id,
        to_blocks(parsed),
        count,
        settings.chunk_tokens,
        settings.chunk_overlap_tokens,
        settings.max_chunk_tokens,
        parsed.title,
    )


MIN_UNIT_CHARS = 25  # shorter sentences ('See figure 3.') say nothing on their own


def search_units(blocks: list[Block]) -> list[SearchUnit]:
    """A chunk's search units: each table row under its header (a parts-list row when the
    header has a stock or part number column), each safety block whole, and every sentence
    of at least ``MIN_UNIT_CHARS`` of the rest."""
    units: list[SearchUnit] = []
    for block in blocks:
        if block.kind == "table" and len(block.rows) > 1:
            header = block.rows[0]
            kind = "part_row" if any(PART_COLUMN.search(cell) for cell in header) else "row"
            units += [
                SearchUnit(kind=kind, text=render_table([header, row]))
                for row in block.rows[1:]
                if sum(bool(cell.strip()) for cell in row) >= 2
            ]
        elif block.kind in ("warning", "note"):
            units.append(SearchUnit(kind="safety", text=block.text))
        else:
            units += [
                SearchUnit(kind="sentence", text=sentence)
                for line in block.text.splitlines()
                for sentence in _SENTENCE.split(line)
                if len(sentence.strip()) >= MIN_UNIT_CHARS
            ]
    return list({u.text: u for u in units}.values())
