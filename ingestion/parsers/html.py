"""HTML manuals, through BeautifulSoup. Navigation, scripts, styles and footers are dropped."""

from __future__ import annotations

from pathlib import Path

from bs4 import BeautifulSoup, NavigableString, Tag

from ingestion.parsers.base import clean, decode_text
from maint.domain import Element, ParsedDocument

_DROP = ("script", "style", "nav", "footer", "header", "noscript", "template", "form", "button")
_BLOCKS = {
    "p",
    "div",
    "section",
    "article",
    "main",
    "aside",
    "blockquote",
    "ol",
    "ul",
    "table",
    "h1",
    "h2",
    "h3",
    "h4",
    "h5",
    "h6",
    "pre",
    "figure",
    "dl",
}


def _text(tag: Tag) -> str:
    return clean(tag.get_text(" "))


def _walk(node: Tag, out: list[Element]) -> None:
    for child in node.children:
        if isinstance(child, NavigableString):
            if child.strip() and node.name not in ("body", "main", "section", "article"):
                out.append(Element(kind="paragraph", text=clean(str(child))))
            continue
        if not isinstance(child, Tag):
            continue
        name = child.name
        if name in ("h1", "h2", "h3", "h4", "h5", "h6"):
            out.append(Element(kind="heading", text=_text(child), level=int(name[1])))
        elif name == "table":
            rows = [
                [_text(cell) for cell in tr.find_all(["th", "td"])] for tr in child.find_all("tr")
            ]
            rows = [r for r in rows if any(r)]
            if rows:
                out.append(Element(kind="table", rows=rows))
        elif name in ("ol", "ul"):
            number = int(child.get("start", 1)) if name == "ol" else None
            for li in child.find_all("li", recursive=False):
                out.append(Element(kind="list_item", text=_text(li), number=number))
                if number is not None:
                    number += 1
        elif name == "p" or (
            name in _BLOCKS
            and not any(isinstance(c, Tag) and c.name in _BLOCKS for c in child.children)
        ):
            text = _text(child)
            if text:
                out.append(Element(kind="paragraph", text=text))
        else:
            _walk(child, out)


def parse(path: Path, data: bytes) -> ParsedDocument:
    soup = BeautifulSoup(decode_text(data), "html.parser")
    for tag in soup.find_all(_DROP):
        tag.decompose()
    root = soup.body or soup
    elements: list[Element] = []
    _walk(root, elements)
    for e in elements:
        e.page = 1
    title = next((e.text for e in elements if e.kind == "heading"), None)
    if not title and soup.title:
        title = clean(soup.title.get_text())
    return ParsedDocument(
        path=str(path), format="html", title=title or path.stem, pages=1, elements=elements
    )
