"""Markdown manuals, through markdown-it-py's token stream (CommonMark + tables)."""

from __future__ import annotations

from pathlib import Path

from markdown_it import MarkdownIt
from markdown_it.token import Token

from ingestion.parsers.base import clean, decode_text
from maint.domain import Element, ParsedDocument


def _inline_text(token: Token) -> str:
    if not token.children:
        return clean(token.content)
    parts = []
    for child in token.children:
        if child.type in ("text", "code_inline"):
            parts.append(child.content)
        elif child.type in ("softbreak", "hardbreak"):
            parts.append(" ")
    return clean("".join(parts))


def parse(path: Path, data: bytes) -> ParsedDocument:
    text = decode_text(data)
    tokens = MarkdownIt("commonmark").enable("table").parse(text)
    elements: list[Element] = []
    list_stack: list[dict] = []  # {"ordered": bool, "next": int}
    row: list[str] = []
    rows: list[list[str]] = []
    i = 0
    while i < len(tokens):
        tok = tokens[i]
        if tok.type == "heading_open":
            level = int(tok.tag[1])
            elements.append(Element(kind="heading", text=_inline_text(tokens[i + 1]), level=level))
            i += 3
            continue
        if tok.type in ("ordered_list_open", "bullet_list_open"):
            start = int(tok.attrs.get("start", 1) or 1) if tok.type.startswith("ordered") else 0
            list_stack.append({"ordered": tok.type.startswith("ordered"), "next": start})
        elif tok.type in ("ordered_list_close", "bullet_list_close"):
            list_stack.pop()
        elif tok.type == "list_item_open":
            # The item's text is its paragraphs joined; nested lists become their own items.
            parts: list[str] = []
            j = i + 1
            while tokens[j].type != "list_item_close" and not tokens[j].type.endswith("list_open"):
                if tokens[j].type == "inline":
                    parts.append(_inline_text(tokens[j]))
                j += 1
            current = list_stack[-1]
            number = current["next"] if current["ordered"] else None
            if current["ordered"]:
                current["next"] += 1
            elements.append(Element(kind="list_item", text=" ".join(parts), number=number))
            i = j
            continue
        elif tok.type == "tr_open":
            row = []
        elif tok.type in ("th_open", "td_open"):
            row.append(_inline_text(tokens[i + 1]))
        elif tok.type == "tr_close":
            rows.append(row)
        elif tok.type == "table_close":
            elements.append(Element(kind="table", rows=rows))
            rows = []
        elif tok.type == "inline" and not list_stack and tokens[i - 1].type == "paragraph_open":
            elements.append(Element(kind="paragraph", text=_inline_text(tok)))
        i += 1
    title = next((e.text for e in elements if e.kind == "heading"), path.stem)
    for e in elements:
        e.page = 1
    return ParsedDocument(
        path=str(path), format="markdown", title=title, pages=1, elements=elements
    )
