"""Characters a PDF font does not map to Unicode, given the character they print.

A font without a usable ToUnicode map leaves extractors with a bare character code: pdfminer
writes it as ``(cid:141)``, pdfium as a control or private-use character. Manuals hit this in
symbols (the bullet in ``N•m``, degree and plus-minus signs from Symbol fonts). In order:
the code as Windows-1252 (what most such fonts mean by 0x80-0x9F), the Symbol font's
private-use mirror (U+F0xx), a unit whose middle dot is known (``N·m``), the glyph's shape
(a small centred dot is a bullet); anything else is dropped rather than shown as a code.
"""

from __future__ import annotations

import re
import unicodedata

# Symbol-font codes as they appear in the private-use area (U+F000 + code).
_SYMBOL = {
    0x22: "∀",
    0x24: "∃",
    0x2A: "∗",
    0x2D: "−",
    0x44: "Δ",
    0x57: "Ω",
    0x61: "α",
    0x62: "β",
    0x64: "δ",
    0x66: "φ",
    0x6D: "μ",
    0x70: "π",
    0x71: "θ",
    0x77: "ω",
    0xA2: "′",
    0xA3: "≤",
    0xA5: "∞",
    0xAE: "→",
    0xB0: "°",
    0xB1: "±",
    0xB2: "″",
    0xB3: "≥",
    0xB4: "×",
    0xB5: "∝",
    0xB7: "•",
    0xB8: "÷",
    0xB9: "≠",
    0xBB: "≈",
    0xBC: "…",
    0xD2: "®",
    0xD3: "©",
    0xD4: "™",
    0xD6: "√",
    0xD7: "⋅",
    0xE0: "◊",
}
# Newton-metre and the like: a glyph between these letters is the product dot.
_PRODUCT_DOT = re.compile(r"(?<![A-Za-z])(N|lbf|kN|daN)\uFFFF(m|ft|in)(?![A-Za-z])")
BULLET = "•"


def unmapped(ch: str) -> bool:
    """A character that stands for a code, not for text."""
    if not ch:
        return False
    cp = ord(ch)
    return (
        (cp < 0x20 and ch not in "\t\n\r\f")
        or 0x7F <= cp <= 0x9F
        or 0xE000 <= cp <= 0xF8FF
        or cp in (0xFFFD, 0xFFFE, 0xFFFF)
        or unicodedata.category(ch) == "Cn"
    )


def from_code(ch: str) -> str | None:
    """The character an unmapped code most likely prints, where the code says it."""
    cp = ord(ch)
    if 0x80 <= cp <= 0x9F:
        try:
            return bytes([cp]).decode("cp1252")
        except UnicodeDecodeError:
            return None
    if 0xF000 <= cp <= 0xF0FF:
        low = cp - 0xF000
        if 0x20 <= low < 0x7F and chr(low).isalnum():
            return None  # a Latin letter in a symbol font: unknown, not itself
        return _SYMBOL.get(low)
    return None


def looks_like_bullet(width: float, height: float, middle: float, size: float) -> bool:
    """A glyph whose ink is a small, round-ish blob around half the x-height."""
    if size <= 0 or width <= 0 or height <= 0:
        return False
    return (
        width <= 0.5 * size
        and height <= 0.5 * size
        and 0.6 <= width / height <= 1.7
        and 0.1 * size <= middle <= 0.6 * size
    )


def resolve(text: str) -> str:
    """Replace the placeholders left in ``text`` (U+FFFF) by what context says, or drop them."""
    if "\uffff" not in text:
        return text
    text = _PRODUCT_DOT.sub(r"\1•\2", text)
    return text.replace("\uffff", "")
