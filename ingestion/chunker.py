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

from maint.domain import Block, BlockKind, Chunk, Element, ParsedDocument

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

        if el.kind == "list_item" and el.number is not None:
            i, procedure = _procedure(elements, i, section(), title)
            blocks.append(procedure)
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


def _procedure(
    elements: list[Element], i: int, section: list[str], title: str | None
) -> tuple[int, Block]:
    """Collect numbered steps 1..n, with warnings/notes that interrupt them."""
    steps: list[str] = []
    lines: list[str] = []
    line_pages: list[int | None] = []
    pages = [elements[i].page]
    expected = elements[i].number or 1
    while i < len(elements):
        el = elements[i]
        if el.kind == "list_item" and el.number == expected:
            steps.append(el.text)
            lines.append(f"{el.number}. {el.text}")
            line_pages.append(el.page)
            expected += 1
            pages.append(el.page)
            i += 1
            continue
        # A safety statement or note between two steps stays inside the procedure.
        nxt = elements[i + 1] if i + 1 < len(elements) else None
        if (
            el.kind == "paragraph"
            and _signal(el.text)
            and nxt is not None
            and nxt.kind == "list_item"
            and nxt.number == expected
        ):
            lines.append(el.text)
            line_pages.append(el.page)
            i += 1
            continue
        break
    known = [p for p in pages if p is not None]
    return i, Block(
        kind="procedure",
        section=section,
        page_start=min(known) if known else None,
        page_end=max(known) if known else None,
        text="\n".join(lines),
        steps=steps,
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


def _units(
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
            )
        )
        group, size = [], 0

    for unit in _units(blocks, chunk_tokens, overlap, max_tokens, count):
        unit_size = count(unit.text)
        if group and (unit.section != group[0].section or size + unit_size > chunk_tokens):
            close()
        group.append(unit)
        size += unit_size
    close()
    return chunks
