"""Values with units, as manuals write them, and their SI (or SI-style) equivalents."""

from __future__ import annotations

import re
from dataclasses import dataclass

# unit as written -> (normalised unit, factor to it); temperature is special-cased.
_UNITS: dict[str, tuple[str, float]] = {
    "N·m": ("N·m", 1.0),
    "N.m": ("N·m", 1.0),
    "Nm": ("N·m", 1.0),
    "N m": ("N·m", 1.0),
    "lbf·ft": ("N·m", 1.35582),
    "lbf ft": ("N·m", 1.35582),
    "lb-ft": ("N·m", 1.35582),
    "lbf·in": ("N·m", 0.112985),
    "lb-in": ("N·m", 0.112985),
    "mm/s": ("mm/s", 1.0),
    "µm": ("mm", 0.001),
    "μm": ("mm", 0.001),
    "mm": ("mm", 1.0),
    "in.": ("mm", 25.4),
    "in": ("mm", 25.4),
    "ft": ("m", 0.3048),
    "m": ("m", 1.0),
    "bar": ("kPa", 100.0),
    "psi": ("kPa", 6.894757),
    "kPa": ("kPa", 1.0),
    "MPa": ("kPa", 1000.0),
    "m³/min": ("m³/h", 60.0),
    "m³/h": ("m³/h", 1.0),
    "cfm": ("m³/h", 1.699011),
    "L/min": ("L/min", 1.0),
    "L/h": ("L/h", 1.0),
    "US gal": ("L", 3.785412),
    "gal": ("L", 3.785412),
    "L": ("L", 1.0),
    "°C": ("°C", 1.0),
    "°F": ("°C", 1.0),
    "kW": ("kW", 1.0),
    "hp": ("kW", 0.7457),
    "kVA": ("kVA", 1.0),
    "rpm": ("rpm", 1.0),
    "r/min": ("rpm", 1.0),
    "kg": ("kg", 1.0),
    "lb": ("kg", 0.4535924),
    "g": ("kg", 0.001),
    "dB(A)": ("dB(A)", 1.0),
    "Hz": ("Hz", 1.0),
    "V": ("V", 1.0),
    "A": ("A", 1.0),
    "Ah": ("Ah", 1.0),
    "h": ("h", 1.0),
    "%": ("%", 1.0),
}

_NUMBER = r"-?\d{1,3}(?:,\d{3})+(?:\.\d+)?|-?\d+(?:\.\d+)?"
_unit_alt = "|".join(
    re.escape(u) if u not in ("in", "in.") else (r"in\." if u == "in." else r"in(?=\))")
    for u in sorted(_UNITS, key=len, reverse=True)
)
# A number that does not start inside a word ("RSC-SEP-075A" is no 75 A), optionally a
# range ("3.5–5.0"), then a unit not followed by more word characters.
VALUE_WITH_UNIT = re.compile(
    rf"(?<![\w.,/·-])(?P<value>(?:{_NUMBER})(?:\s?(?:–|-|to)\s?(?:{_NUMBER}))?)"
    rf"\s?(?P<unit>{_unit_alt})(?![\w²³/·])"
)
BARE_NUMBER = re.compile(rf"^\s*(?P<value>(?:{_NUMBER})(?:\s?[–-]\s?(?:{_NUMBER}))?)\s*$")
UNIT_IN_HEADER = re.compile(rf"(?:^|[\s,(\[])(?P<unit>{_unit_alt})\s*[)\]]?\s*$")


@dataclass(frozen=True)
class Quantity:
    value: str  # as written, e.g. "95", "3.5–5.0", "2,000"
    unit: str  # as written, e.g. "lbf·ft"
    value_si: float | None
    unit_si: str


def number(text: str) -> float | None:
    """First number of a value as written ('2,000' -> 2000.0, '3.5–5.0' -> 3.5)."""
    m = re.match(_NUMBER, text.replace("−", "-"))
    return float(m.group(0).replace(",", "")) if m else None


def normalise(value: str, unit: str) -> Quantity:
    unit_si, factor = _UNITS.get(unit, (unit, 1.0))
    first = number(value)
    if first is None:
        si = None
    elif unit == "°F":
        si = round((first - 32) * 5 / 9, 2)
    else:
        si = round(first * factor, 4)
    return Quantity(value=value, unit=unit, value_si=si, unit_si=unit_si)


def find_quantities(text: str) -> list[tuple[re.Match, Quantity]]:
    out = []
    for m in VALUE_WITH_UNIT.finditer(text):
        out.append((m, normalise(m.group("value"), m.group("unit"))))
    return out


def unit_of_header(header: str) -> str | None:
    """'Torque, N·m' or 'Oil quantity (L)' -> the unit the column's bare numbers carry."""
    m = UNIT_IN_HEADER.search(header.strip())
    return m.group("unit") if m else None
