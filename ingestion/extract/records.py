"""Facts as read from a manual, before they become graph nodes: what the tests compare with
the hand-checked lists, and what the graph writers store."""

from __future__ import annotations

from dataclasses import dataclass, field

from maint.units import Quantity


@dataclass
class PartRow:
    """One parts-list row (RPSTL, MWO kit list, OEM parts table)."""

    page: int | None
    chunk_id: str
    part_number: str
    description: str = ""
    figure: str = ""
    item: str = ""
    smr: str = ""
    nsn: str = ""  # as printed
    cage: str = ""
    usable_on: str = ""
    qty: str = ""


@dataclass
class Value:
    """A value with its unit(s) as printed, and what it applies to."""

    page: int | None
    chunk_id: str
    text: str  # as printed: '110 lb-ft (149 N•m)'
    applies_to: str
    context: str  # the sentence or table row it stands in
    quantities: tuple[Quantity, ...]
    condition: str | None = None


@dataclass
class Notice:
    """A WARNING, CAUTION, NOTE or DANGER block with its whole text."""

    page: int | None
    chunk_id: str
    level: str
    text: str  # without the signal word
    section: tuple[str, ...] = ()


@dataclass
class Procedure:
    """Numbered steps under a paragraph, work package or FRAME."""

    page: int | None
    chunk_id: str
    title: str
    section: tuple[str, ...]
    steps: list[str]
    step_pages: list[int | None]
    notices: list[tuple[int, Notice]] = field(default_factory=list)  # (before step n, notice)


@dataclass
class Interval:
    page: int | None
    chunk_id: str
    task: str
    interval: str


@dataclass
class Extraction:
    """Everything read from one document."""

    parts: list[PartRow] = field(default_factory=list)
    values: list[Value] = field(default_factory=list)
    notices: list[Notice] = field(default_factory=list)
    procedures: list[Procedure] = field(default_factory=list)
    intervals: list[Interval] = field(default_factory=list)
