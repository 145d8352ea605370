"""Domain types shared by ingestion, the stores and retrieval.

Data flows one way: a parser turns a file into ``Element``s; the chunker groups them into
``Block``s (a procedure, a table, a warning are each one block) and packs blocks into
``Chunk``s; the extractor turns blocks into graph ``Node``s and ``Edge``s, each tied to the
chunk it came from.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field

ElementKind = Literal["heading", "paragraph", "list_item", "table"]
BlockKind = Literal["paragraph", "list", "procedure", "table", "warning", "note"]
SafetyLevel = Literal["DANGER", "WARNING", "CAUTION"]


class Element(BaseModel):
    """One structural piece of a parsed document, in reading order."""

    kind: ElementKind
    text: str = ""
    page: int | None = None
    level: int = 0  # heading level (1 = chapter)
    number: int | None = None  # list item number; None for bullets
    rows: list[list[str]] | None = None  # table rows, header first


class TitleEquipment(BaseModel):
    """An end item as the title page names it: what it is, its model and stock number."""

    name: str  # the title-page line, e.g. "LEECE-NEVILLE MODEL 3002AC"
    model: str | None = None  # "3002AC"
    nsn: str | None = None  # "2920-00-909-2483" (older lists print 4-3-4 FSNs)


class ParsedDocument(BaseModel):
    path: str
    format: Literal["pdf", "html", "markdown", "text"]
    title: str
    pages: int
    elements: list[Element]
    publication: str | None = None  # "TM 9-2920-225-34", from the title page
    equipment: list[TitleEquipment] = Field(default_factory=list)
    pages_without_text: list[int] = Field(default_factory=list)  # scans with no text layer


class Block(BaseModel):
    """A unit the chunker never cuts (except over-long tables, at row boundaries)."""

    kind: BlockKind
    section: list[str]  # heading path, outermost first
    page_start: int | None
    page_end: int | None
    text: str
    level: SafetyLevel | None = None  # for warnings
    steps: list[str] = Field(default_factory=list)  # for procedures, in order
    line_pages: list[int | None] = Field(default_factory=list)  # procedures: page of each line
    rows: list[list[str]] = Field(default_factory=list)  # for tables, header first
    title: str | None = None  # procedure/table title (the heading it sits under)


def search_path(document: str, section: list[str]) -> str:
    """'Manual title > chapter > … > table title'."""
    return " > ".join(p for p in (document, *section) if p)


UnitKind = Literal["row", "part_row", "sentence", "safety"]


class SearchUnit(BaseModel):
    """A table row (under its header), a sentence or a safety block inside a chunk."""

    kind: UnitKind  # part_row: a parts-list row, what a question for a stock number wants
    text: str


class Chunk(BaseModel):
    id: str  # "<document id>:<ordinal>"
    document_id: str
    ordinal: int
    section: list[str]
    page_start: int | None
    page_end: int | None
    text: str  # what is shown and searched
    tokens: int
    blocks: list[Block] = Field(default_factory=list, exclude=True)
    # Search units: the table rows (under their header), sentences and safety blocks inside
    # the chunk. Each is embedded and ranked on its own, so that one parts-list row is not
    # drowned in a page of others; a unit that matches brings its chunk.
    units: list[SearchUnit] = Field(default_factory=list, exclude=True)
    document: str = Field(default="", exclude=True)  # the manual's title: the path's root

    @property
    def search_path(self) -> str:
        """Manual > chapter > … > table title: what grounds the chunk and its units when
        they are embedded and counted for BM25 ('the DG-450's oil capacity' has no 'DG-450'
        in the row that answers it)."""
        return search_path(self.document, self.section)

    @property
    def section_path(self) -> str:
        return " > ".join(self.section)

    @property
    def embed_text(self) -> str:
        """Text given to the embedder (and counted for BM25): the path grounds short chunks."""
        return self.grounded(self.text)

    @property
    def unit_embed_texts(self) -> list[str]:
        return [self.grounded(u.text) for u in self.units]

    def grounded(self, text: str) -> str:
        path = self.search_path
        return f"{path}\n{text}" if path else text


class Node(BaseModel):
    """A graph node: ``key`` is unique per label; shared labels merge across manuals."""

    label: str
    key: str
    props: dict[str, str | int | float | bool | list[str] | None] = Field(default_factory=dict)
    chunk_ids: list[str] = Field(default_factory=list)


class Edge(BaseModel):
    type: str
    src_label: str
    src_key: str
    dst_label: str
    dst_key: str
    props: dict[str, str | int | float | None] = Field(default_factory=dict)


class Facts(BaseModel):
    nodes: list[Node] = Field(default_factory=list)
    edges: list[Edge] = Field(default_factory=list)


class DocumentRecord(BaseModel):
    id: str  # first 16 hex digits of the content's sha256
    sha256: str
    source_path: str
    title: str
    format: str
    pages: int
    bytes: int
    status: Literal["pending", "complete"] = "complete"
    chunks: int = 0
    ingested_at: str | None = None


# Graph labels whose nodes belong to one document and go with it when it is deleted.
DOCUMENT_SCOPED_LABELS = ("Spec", "Procedure", "Step", "Warning", "Interval")
# Labels shared across manuals: merged by key, removed only when no chunk mentions them.
SHARED_LABELS = ("Equipment", "Component", "Part", "Tool")
