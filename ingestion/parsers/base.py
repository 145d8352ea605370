"""Helpers shared by the parsers."""

from __future__ import annotations

import re


class ParseError(ValueError):
    """A file cannot be ingested: ``reason`` says why, ``hint`` what to do about it."""

    def __init__(self, reason: str, hint: str):
        super().__init__(f"{reason} — {hint}")
        self.reason = reason
        self.hint = hint


def decode_text(data: bytes) -> str:
    """Decode a text file; binary content with a text extension is refused."""
    if b"\x00" in data[:8192]:
        raise ParseError(
            "binary content in a text file (NUL bytes)",
            "check the file type; rename it with its real extension",
        )
    for encoding in ("utf-8-sig", "cp1252"):
        try:
            text = data.decode(encoding)
            break
        except UnicodeDecodeError:
            continue
    else:  # pragma: no cover - cp1252 decodes nearly anything
        raise ParseError("not decodable as UTF-8 or Windows-1252", "re-export it as UTF-8")
    control = sum(1 for ch in text[:20000] if ord(ch) < 32 and ch not in "\t\n\r\f")
    if control > 0.01 * max(1, min(len(text), 20000)):
        raise ParseError(
            "binary content in a text file (control characters)",
            "check the file type; rename it with its real extension",
        )
    return text


_SPACES = re.compile(r"[ \t\u00a0]+")
# A word broken at a line end: "lubri-\ncation". Only join lowercase letter runs: a part
# number ("WP-1143-\nB") or a compound with digits keeps its hyphen.
_HYPHEN_BREAK = re.compile(r"([a-z]{2,})[-\u00ad]\n([a-z]{2,})")


def dehyphenate(lines: list[str]) -> str:
    """Join lines into one paragraph, undoing hyphenated line breaks."""
    text = "\n".join(line.strip() for line in lines if line.strip())
    text = _HYPHEN_BREAK.sub(r"\1\2", text)
    text = re.sub(r"(?<=\w)-\n(?=\w)", "-", text)  # "WP-2207-" + "B" is one token
    text = text.replace("\u00ad\n", "").replace("\u00ad", "")
    return _SPACES.sub(" ", text.replace("\n", " ")).strip()


def clean(text: str) -> str:
    return _SPACES.sub(" ", text.replace("\u00ad", "")).strip()


# Dot leaders: "GLOW PLUG.......", "Scope . . . . . . 1-1". Three dots or more; a single dot
# (the indent mark of a parts-list description, ". RING, SS") stays.
_LEADER = re.compile(r"\s*(?:\.\s?){3,}")


def strip_leaders(text: str) -> str:
    """Remove dot leaders (a run of three or more dots) from a line or a table cell."""
    if ". ." not in text and "..." not in text:
        return text
    return _SPACES.sub(" ", _LEADER.sub(" ", text)).strip()


HEADING_NUMBER = re.compile(r"^(\d+(?:\.\d+)*)\.?\s+(\S.*)$")
# A numbered step: "3. Remove…", "3) Remove…", and "(3) Remove…" as military manuals print it.
LIST_NUMBER = re.compile(r"^(?:(\d{1,2})[.)]|\((\d{1,2})\))\s+(\S.*)$")


def list_number(text: str) -> tuple[int, str] | None:
    """The step number and the step's text, if ``text`` starts a numbered step."""
    m = LIST_NUMBER.match(text)
    return (int(m.group(1) or m.group(2)), m.group(3)) if m else None


def heading_level_from_number(text: str) -> int | None:
    """'3 MAINTENANCE' -> 1, '3.2 Replacing the seal' -> 2; None if not numbered."""
    m = HEADING_NUMBER.match(text)
    if not m:
        return None
    return m.group(1).count(".") + 1
