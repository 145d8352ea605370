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
    "N-m": ("N·m", 1.0),
    "N⋅m": ("N·m", 1.0),
    "N∙m": ("N·m", 1.0),
    "kN·m": ("N·m", 1000.0),
    "kN-m": ("N·m", 1000.0),
    "kNm": ("N·m", 1000.0),
    "daN·m": ("N·m", 10.0),
    "kgf·m": ("N·m", 9.80665),
    "kgf-m": ("N·m", 9.80665),
    "kgf m": ("N·m", 9.80665),
    "kg·m": ("N·m", 9.80665),
    "kg-m": ("N·m", 9.80665),
    "kgf·cm": ("N·m", 0.0980665),
    "kgf-cm": ("N·m", 0.0980665),
    "kg·cm": ("N·m", 0.0980665),
    "kg-cm": ("N·m", 0.0980665),
    "lbf·ft": ("N·m", 1.35582),
    "lbf ft": ("N·m", 1.35582),
    "lb-ft": ("N·m", 1.35582),
    "lbf-ft": ("N·m", 1.35582),
    "lbf⋅ft": ("N·m", 1.35582),
    "lb·ft": ("N·m", 1.35582),
    "lb ft": ("N·m", 1.35582),
    "lb.ft": ("N·m", 1.35582),
    "lbs-ft": ("N·m", 1.35582),
    "lbs ft": ("N·m", 1.35582),
    "ft-lb": ("N·m", 1.35582),
    "ft-lbs": ("N·m", 1.35582),
    "ft-lbf": ("N·m", 1.35582),
    "ft·lbf": ("N·m", 1.35582),
    "ft·lb": ("N·m", 1.35582),
    "ft.lb": ("N·m", 1.35582),
    "ft lbf": ("N·m", 1.35582),
    "ft lbs": ("N·m", 1.35582),
    "ft lb": ("N·m", 1.35582),
    "lbf·in": ("N·m", 0.112985),
    "lb-in": ("N·m", 0.112985),
    "lbf-in": ("N·m", 0.112985),
    "lb·in": ("N·m", 0.112985),
    "in-lb": ("N·m", 0.112985),
    "in-lbs": ("N·m", 0.112985),
    "in-lbf": ("N·m", 0.112985),
    "in·lbf": ("N·m", 0.112985),
    "in·lb": ("N·m", 0.112985),
    "mm/s": ("mm/s", 1.0),
    "µm": ("mm", 0.001),
    "μm": ("mm", 0.001),
    "micron": ("mm", 0.001),
    "microns": ("mm", 0.001),
    "cm": ("mm", 10.0),
    "mm": ("mm", 1.0),
    "in.": ("mm", 25.4),
    "in": ("mm", 25.4),
    "inch": ("mm", 25.4),
    "inches": ("mm", 25.4),
    "ft": ("m", 0.3048),
    "m": ("m", 1.0),
    "bar": ("kPa", 100.0),
    "barg": ("kPa", 100.0),
    "bar(g)": ("kPa", 100.0),
    "mbar": ("kPa", 0.1),
    "psi": ("kPa", 6.894757),
    "psig": ("kPa", 6.894757),
    "psi(g)": ("kPa", 6.894757),
    "kPa": ("kPa", 1.0),
    "MPa": ("kPa", 1000.0),
    "N/mm²": ("kPa", 1000.0),
    "Pa": ("kPa", 0.001),
    "kgf/cm²": ("kPa", 98.0665),
    "kgf/cm2": ("kPa", 98.0665),
    "kg/cm²": ("kPa", 98.0665),
    "kg/cm2": ("kPa", 98.0665),
    "m³/min": ("m³/h", 60.0),
    "m3/min": ("m³/h", 60.0),
    "m³/h": ("m³/h", 1.0),
    "m3/h": ("m³/h", 1.0),
    "cfm": ("m³/h", 1.699011),
    "CFM": ("m³/h", 1.699011),
    "scfm": ("m³/h", 1.699011),
    "L/min": ("L/min", 1.0),
    "l/min": ("L/min", 1.0),
    "gpm": ("L/min", 3.785412),
    "L/h": ("L/h", 1.0),
    "l/h": ("L/h", 1.0),
    "US gal": ("L", 3.785412),
    "gal": ("L", 3.785412),
    "imp gal": ("L", 4.54609),
    "US qt": ("L", 0.946353),
    "qt": ("L", 0.946353),
    "mL": ("L", 0.001),
    "ml": ("L", 0.001),
    "L": ("L", 1.0),
    "l": ("L", 1.0),
    "litres": ("L", 1.0),
    "liters": ("L", 1.0),
    "litre": ("L", 1.0),
    "liter": ("L", 1.0),
    "°C": ("°C", 1.0),
    "° C": ("°C", 1.0),
    "℃": ("°C", 1.0),
    "deg C": ("°C", 1.0),
    "deg. C": ("°C", 1.0),
    "degC": ("°C", 1.0),
    "degrees C": ("°C", 1.0),
    "°F": ("°C", 1.0),
    "° F": ("°C", 1.0),
    "℉": ("°C", 1.0),
    "deg F": ("°C", 1.0),
    "deg. F": ("°C", 1.0),
    "degF": ("°C", 1.0),
    "degrees F": ("°C", 1.0),
    "kW": ("kW", 1.0),
    "hp": ("kW", 0.7457),
    "HP": ("kW", 0.7457),
    "kVA": ("kVA", 1.0),
    "rpm": ("rpm", 1.0),
    "r/min": ("rpm", 1.0),
    "RPM": ("rpm", 1.0),
    "rev/min": ("rpm", 1.0),
    "min⁻¹": ("rpm", 1.0),
    "kg": ("kg", 1.0),
    "lb": ("kg", 0.4535924),
    "lbs": ("kg", 0.4535924),
    "g": ("kg", 0.001),
    "dB(A)": ("dB(A)", 1.0),
    "dBA": ("dB(A)", 1.0),
    "dB (A)": ("dB(A)", 1.0),
    "Hz": ("Hz", 1.0),
    "V": ("V", 1.0),
    "kV": ("V", 1000.0),
    "mV": ("V", 0.001),
    "VDC": ("V", 1.0),
    "VAC": ("V", 1.0),
    "A": ("A", 1.0),
    "mA": ("A", 0.001),
    "Ω": ("Ω", 1.0),
    "ohm": ("Ω", 1.0),
    "ohms": ("Ω", 1.0),
    "kΩ": ("Ω", 1000.0),
    "MΩ": ("Ω", 1e6),
    "megohm": ("Ω", 1e6),
    "megohms": ("Ω", 1e6),
    "Ah": ("Ah", 1.0),
    "h": ("h", 1.0),
    "hr": ("h", 1.0),
    "hrs": ("h", 1.0),
    "hours": ("h", 1.0),
    "hour": ("h", 1.0),
    "min": ("h", 1 / 60),
    "minutes": ("h", 1 / 60),
    "minute": ("h", 1 / 60),
    "seconds": ("h", 1 / 3600),
    "second": ("h", 1 / 3600),
    "%": ("%", 1.0),
}

_FAHRENHEIT = frozenset({"°F", "° F", "℉", "deg F", "deg. F", "degF", "degrees F"})

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
    elif unit in _FAHRENHEIT:
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
