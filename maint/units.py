"""Values with units, as manuals write them, and their SI (or SI-style) equivalents: the one
place that knows unit spellings, factors and how a value is written.

Extraction reads specs with it, the guard compares an answer's values with the sources' through
it, and the metrics normalise answers with it, so '70 ft-lb' is '70 lbf·ft' to all of them.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache

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
    "kN": ("N", 1000.0),
    "N": ("N", 1.0),
    "lbf": ("N", 4.448222),
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
# range ("3.5–5.0"), then a unit not followed by more word characters nor starting an
# abbreviation ("12469512 L.H. hose" is a left-hand hose, not 12469512 litres).
VALUE_WITH_UNIT = re.compile(
    rf"(?<![\w.,/·-])(?P<value>(?:{_NUMBER})(?:\s?(?:–|-|to)\s?(?:{_NUMBER}))?)"
    rf"\s?(?P<unit>{_unit_alt})(?![\w²³/·])(?!\.[A-Za-z]\.)"
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


# -- comparing values -------------------------------------------------------------------------
def affine(unit: str) -> tuple[str, float, float]:
    """(unit_si, offset, scale) with si = offset + scale * value, from the unit table."""
    unit_si, factor = _UNITS.get(unit, (unit, 1.0))
    if unit in _FAHRENHEIT:
        return unit_si, -32 * 5 / 9, 5 / 9
    return unit_si, 0.0, factor


UnitFamily = tuple[str, float, float]


def family(unit: str) -> UnitFamily:
    """Written units with the same SI unit and factor are one family: 'Nm', 'N m', 'N·m';
    'ft-lb', 'lb-ft', 'lbf·ft'."""
    si, offset, scale = affine(unit)
    return si, round(offset, 3), float(f"{scale:.6g}")


# The spelling a family of written units is shown in; units whose factor is 1 show as their
# SI-style unit ('Nm' -> 'N·m'), the rest as listed here ('ft-lb' -> 'lbf·ft').
_PREFERRED = (
    "lbf·ft",
    "lbf·in",
    "kN·m",
    "kgf·m",
    "kgf·cm",
    "in",
    "ft",
    "µm",
    "cm",
    "bar",
    "psi",
    "MPa",
    "mbar",
    "Pa",
    "kgf/cm²",
    "m³/min",
    "cfm",
    "gpm",
    "US gal",
    "imp gal",
    "qt",
    "mL",
    "°F",
    "hp",
    "lb",
    "g",
    "kV",
    "mV",
    "mA",
    "kΩ",
    "MΩ",
    "min",
    "seconds",
)


@lru_cache(maxsize=1)
def _preferred() -> dict[UnitFamily, str]:
    return {family(u): u for u in reversed(_PREFERRED)}


def canonical_unit(unit: str) -> str:
    """One spelling per unit: 'Nm', 'N m', 'N-m' -> 'N·m'; 'ft-lb', 'lb-ft' -> 'lbf·ft'."""
    key = family(unit)
    if key in _preferred():
        return _preferred()[key]
    si, offset, scale = key
    return si if offset == 0 and scale == 1 else unit


_NUM = r"-?[\d,]+(?:\.\d+)?"
_RANGE = re.compile(rf"^(?P<a>{_NUM})(?:\s?(?:–|-|to)\s?(?P<b>{_NUM}))?$")
# A value split again into number(s) and unit ('0.016 in' has lost the ')' that
# VALUE_WITH_UNIT wants after 'in', so it is not searched with that a second time).
WRITTEN_VALUE = re.compile(rf"^(?P<value>{_NUM}(?:\s?(?:–|-|to)\s?{_NUM})?)\s?(?P<unit>\S.*)$")
# '2,000 operating hours': an interval as manuals write it, read as '2,000 h' (the unit table
# has no room for a qualifier between number and unit).
QUALIFIED_HOURS = re.compile(
    r"(?<![\w.,/-])(?P<value>\d{1,3}(?:,\d{3})+|\d+)\s(?:operating|running|service|engine)"
    r"\s(?P<unit>hours?|h)\b"
)


def unqualified(unit: str) -> str:
    """'operating hours' -> 'hours'."""
    return re.sub(r"^(?:operating|running|service|engine)\s+", "", unit)


def range_ends(value: str) -> list[str]:
    """'3.5–5.0' -> ['3.5', '5.0']; '2,000' -> ['2000']."""
    m = _RANGE.match(value.strip().replace("−", "-"))
    if not m:
        return []
    return [e.replace(",", "") for e in (m.group("a"), m.group("b")) if e is not None]


def value_norm(value: str, unit: str) -> str:
    """'3.5 to 5.0', 'bar' -> '3.5–5.0 bar'; '95', 'Nm' -> '95 N·m'."""
    return f"{'–'.join(range_ends(value)) or value} {canonical_unit(unit)}"


# -- values as manuals print them in prose ----------------------------------------------------
# Army manuals write '110 lb-ft (149 N•m)', '44-52 lb-ft', '15 to 20 pound-inches',
# '0.281-inch', '1 1/2-volt', '8.6 ounces', 'five seconds', 'ten (10) years'. The spellings
# below are read for finding such values; each maps to a unit of the table above where one fits.
_PROSE_UNITS: dict[str, str] = {
    "lb-ft": "lb-ft",
    "lbs-ft": "lb-ft",
    "ft-lb": "ft-lb",
    "ft-lbs": "ft-lb",
    "ft. lb.": "ft-lb",
    "foot-pounds": "ft-lb",
    "foot pounds": "ft-lb",
    "pound-feet": "lb-ft",
    "lb-in": "lb-in",
    "in-lb": "in-lb",
    "in-lbs": "in-lb",
    "inch lb": "in-lb",
    "inch lbs": "in-lb",
    "inch-pounds": "in-lb",
    "inch pounds": "in-lb",
    "pound-inches": "lb-in",
    "pound inches": "lb-in",
    "N•m": "N·m",
    "N·m": "N·m",
    "N-m": "N·m",
    "n-m": "N·m",
    "Nm": "N·m",
    "in.": "in.",
    "in": "in",  # only before its conversion: '70.125 in (178.11 cm)'
    "inch": "inch",
    "inches": "inches",
    "ft": "ft",
    "feet": "ft",
    "foot": "ft",
    "mm": "mm",
    "cm": "cm",
    "m": "m",
    "lb": "lb",
    "lbs": "lbs",
    "LBS": "lbs",
    "pounds": "lb",
    "kg": "kg",
    "ounces": "oz",
    "ounce": "oz",
    "oz": "oz",
    "ton": "ton",
    "tons": "ton",
    "psi": "psi",
    "kPa": "kPa",
    "volts": "V",
    "volt": "V",
    "V": "V",
    "VDC": "V",
    "VAC": "V",
    "amperes": "A",
    "ampere": "A",
    "amps": "A",
    "amp": "A",
    "ohms": "ohms",
    "ohm": "ohm",
    "RPM": "RPM",
    "rpm": "rpm",
    "Hz": "Hz",
    "seconds": "seconds",
    "second": "second",
    "minutes": "minutes",
    "minute": "minute",
    "hours": "hours",
    "hour": "hour",
    "years": "years",
    "year": "years",
    "months": "months",
    "°F": "°F",
    "°C": "°C",
    "degrees": "degrees",
    "qt": "qt",
    "gal": "gal",
    "cu. ft.": "cu ft",
    "ft³": "cu ft",
    "m³": "m³",
    "square feet": "sq ft",
    "square inches": "sq in",
    "miles per hour": "mph",
    "mph": "mph",
    "g/m²": "g/m²",
    "oz/ft²": "oz/ft²",
    "oz/yd²": "oz/yd²",
    "turn": "turn",
    "turns": "turn",
    "times": "times",
}
_PROSE_EXTRA = {
    "oz": ("kg", 0.02834952),
    "ton": ("kg", 907.18474),
    "cu ft": ("m³", 0.0283168),
    "sq ft": ("m²", 0.092903),
    "sq in": ("m²", 0.00064516),
    "mph": ("km/h", 1.609344),
    "years": ("years", 1.0),
    "months": ("months", 1.0),
    "degrees": ("°", 1.0),
    "turn": ("turn", 1.0),
    "times": ("times", 1.0),
    "ohms": ("Ω", 1.0),
    "lb-in": ("N·m", 0.112985),
}
_WORD_NUMBERS = {
    "one-half": 0.5,
    "one": 1,
    "two": 2,
    "three": 3,
    "four": 4,
    "five": 5,
    "six": 6,
    "seven": 7,
    "eight": 8,
    "nine": 9,
    "ten": 10,
    "eleven": 11,
    "twelve": 12,
    "fifteen": 15,
    "twenty": 20,
    "thirty": 30,
    "forty": 40,
    "fifty": 50,
    "sixty": 60,
}
# A number as printed: '1 1/2' (OCR may read the 1 of a fraction as 'l'), '7/8', '.190',
# '2,000', '8.6', or a number word ('five', 'ten (10)').
_PROSE_NUMBER = (
    r"(?:\d+ [1l]/\d+|\d+/\d+|\d{1,3}(?:,\d{3})+(?:\.\d+)?|\d*\.\d+|\d+"
    r"|(?:" + "|".join(sorted(_WORD_NUMBERS, key=len, reverse=True)) + r")(?: \(\d+\))?)"
)
_prose_unit_alt = "|".join(
    re.escape(u).replace(r"\ ", r"\s") if u != "in" else r"in(?=\s?\()"
    for u in sorted(_PROSE_UNITS, key=len, reverse=True)
)
# number, optionally a range ('13-18', '20 to 30', '.490 in. - .500 in.') or a dimension
# ('58.8 x 16.6 x 8.3 in.'), then the unit; a hyphen may join them ('0.281-inch', '3-volt').
_PROSE_ONE = (
    rf"{_PROSE_NUMBER}(?:\s?[x×]\s?{_PROSE_NUMBER})*"
    rf"(?:\s?(?:-|–|to)\s?{_PROSE_NUMBER})?(?:\s?[-–]\s?|\s)?(?:{_prose_unit_alt})"
)
PROSE_VALUE = re.compile(
    rf"(?<![\w.,/#°−-])(?P<value>(?:(?<![^\s(])[-−](?=\d))?{_PROSE_NUMBER}(?:\s?[x×]\s?{_PROSE_NUMBER})*"
    rf"(?:\s?(?:-|–|to)\s?(?:{_PROSE_NUMBER}))?)(?:\s?[-–]\s?|\s)?(?P<unit>{_prose_unit_alt})"
    rf"(?![\w²³/·•-])(?:\s?(?P<range>(?:-|–)\s?{_PROSE_ONE}))?"
    rf"(?:\s?\((?P<conv>{_PROSE_ONE})\))?",
    re.IGNORECASE,
)
# 'lb', 'V', 'A' and the like are units only in their printed case; a word unit ('volts',
# 'Inches') may be capitalised.
# 'Ton' and 'TON' name vehicle classes ('2-1/2 Ton', '1-1/4 TON'); a weight is '1 ton'.
_CASE_SENSITIVE = {"m", "V", "VDC", "VAC", "lb", "lbs", "LBS", "oz", "ft", "mm", "cm", "kg"}
_CASE_SENSITIVE |= {"ton", "tons", "in"}


# Designations, not measurements: a vehicle class ('1-1/4-Ton', '6-Ton'), a generator or
# weapon named by its rating or calibre ('60-Ampere Generator', '81-mm mortar').
_DESIGNATION = re.compile(r"\d+-\d+(?:/\d+)?-[A-Za-z]+|\d+-[A-Z][a-z]+|\d+-mm")


@dataclass(frozen=True)
class PrintedValue:
    """A value as printed ('110 lb-ft (149 N·m)'), where it stands, and its quantities."""

    text: str
    start: int
    end: int
    quantities: tuple[Quantity, ...]


def prose_number(text: str) -> float | None:
    """'1 1/2' -> 1.5, '7/8' -> 0.875, '.190' -> 0.19, 'five' -> 5, 'ten (10)' -> 10."""
    text = text.strip().lower().replace(" l/", " 1/").replace("−", "-")
    if text.startswith("-") and (rest := prose_number(text[1:])) is not None:
        return -rest
    if m := re.match(r"^(\d+) (\d+)/(\d+)", text):
        return int(m.group(1)) + int(m.group(2)) / int(m.group(3))
    if m := re.match(r"^(\d+)/(\d+)", text):
        return int(m.group(1)) / int(m.group(2))
    if m := re.match(r"^(\d{1,3}(?:,\d{3})+(?:\.\d+)?|\d*\.\d+|\d+)", text):
        return float(m.group(1).replace(",", ""))
    word = re.match(r"^[a-z-]+", text)
    return float(_WORD_NUMBERS[word.group(0)]) if word and word.group(0) in _WORD_NUMBERS else None


def _prose_unit(written: str) -> str | None:
    if written in _PROSE_UNITS:
        return _PROSE_UNITS[written]
    for u, canon in _PROSE_UNITS.items():
        if u.lower() == re.sub(r"\s+", " ", written).lower():
            if u in _CASE_SENSITIVE and written != u:
                continue
            return canon
    return None


def _prose_quantity(value: str, unit: str, written: str) -> Quantity:
    sign, rest = ("-", value[1:]) if value[:1] in "-−" else ("", value)
    first = prose_number(sign + re.split(r"\s?(?:-|–|to|[x×])\s?(?=[\d.a-z])", rest)[0])
    if unit in _PROSE_EXTRA:
        (unit_si, scale), offset = _PROSE_EXTRA[unit], 0.0
    else:
        unit_si, offset, scale = affine(unit)
    si = None if first is None else round(offset + scale * first, 4)
    return Quantity(value=value, unit=written, value_si=si, unit_si=unit_si)


# A mix ratio: '2 parts of Epic R1003 to 1 part of Versamid 140', '4 parts resin to 1 part'.
MIX_RATIO = re.compile(
    r"(?<![\w.])(?P<a>\d+(?:\.\d+)?) parts? (?:of [^,.;]{1,40}? )?to "
    r"(?P<b>\d+(?:\.\d+)?) parts?\b(?: of [^,.;]{1,40})?"
)


def find_printed_values(text: str) -> list[PrintedValue]:
    """Values with a unit as manuals print them in prose and table cells, each with its
    bracketed conversion: '110 lb-ft (149 N•m)' is one printed value of two quantities."""
    out: list[PrintedValue] = []
    for m in MIX_RATIO.finditer(text):
        a, b = float(m.group("a")), float(m.group("b"))
        ratio = Quantity(f"{m.group('a')}:{m.group('b')}", "ratio", round(a / b, 4), "ratio")
        out.append(PrintedValue(m.group(0), m.start(), m.end(), (ratio,)))
    taken = [(v.start, v.end) for v in out]
    for m in PROSE_VALUE.finditer(text):
        unit = _prose_unit(m.group("unit"))
        if unit is None or _DESIGNATION.fullmatch(m.group(0)):
            continue
        if any(s < m.end() and m.start() < e for s, e in taken):
            continue
        quantities = [_prose_quantity(m.group("value"), unit, m.group("unit"))]
        for extra in filter(None, (m.group("conv"),)):
            for inner in PROSE_VALUE.finditer(extra):
                if (u := _prose_unit(inner.group("unit"))) is not None:
                    quantities.append(_prose_quantity(inner.group("value"), u, inner.group("unit")))
        out.append(PrintedValue(m.group(0), m.start(), m.end(), tuple(quantities)))
    return sorted(out, key=lambda v: v.start)


# What a (SI) unit measures, in the words technicians ask with: "torque" finds a row whose
# own label says only "Impeller nut", and a question for a torque wants a value in N·m.
MEASURE_WORDS: dict[str, str] = {
    "N·m": "torque tighten tightening torqued",
    "mm": "clearance gap dimension size length thickness backlash diameter runout wide deep "
    "tall height deflection tension",
    "m": "length distance height",
    "kPa": "pressure psi",
    "m³/h": "flow capacity delivery",
    "L/min": "flow rate",
    "L/h": "consumption rate flow",
    "L": "capacity quantity volume fill amount quarts litres liters",
    "°C": "temperature",
    "kW": "power",
    "kVA": "power",
    "rpm": "speed",
    "km/h": "speed",
    "kg": "weight mass weigh payload capacity tension",  # a sling's capacity, a belt's pull in lb
    "N": "force forces newtons tension thrust",
    "dB(A)": "noise sound",
    "Hz": "hz hertz",
    "V": "voltage volts",
    "A": "current amperes amps",
    "Ω": "resistance ohms reactance impedance",
    "Ah": "ampere-hours",
    "h": "interval hours cure life",
    "years": "life shelf",  # 'shelf life of one year'
    "months": "life shelf",
    "mm/s": "vibration velocity",
    "%": "percent",
}
# 'How much grease ...' names no measure, but asks an amount: a mass or a volume.
AMOUNT_UNITS = frozenset({"kg", "L"})


def units_in(text: str) -> set[str]:
    """The SI units of every value in ``text``, symbols ('80 N·m') and prose ('60 ft-lb',
    'ten ohms') alike."""
    found = {q.unit_si for _, q in find_quantities(text)}
    return found | {q.unit_si for v in find_printed_values(text) for q in v.quantities}
