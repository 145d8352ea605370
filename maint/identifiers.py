"""What a part number (or NSN, serial, model) is, and how text spells one: the one place.

Technicians and manuals write the same code many ways (``WP-1143 B``, ``WP1143B``,
``wp-1143-b``, ``WP‑1143‑B`` with non-breaking hyphens); all compact to ``WP1143B``, the form
the graph keys parts by, keyword search matches and the guard compares. Extraction, retrieval,
the guard, the training data and the metrics all read codes through this module, so they
cannot disagree about what one is.

A code is never cut: ``WP-2207`` is not ``WP-2207-A``, and a text that only names the second
does not contain the first.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

from maint.units import find_quantities

HYPHENS = "\u2010\u2011\u2012\u2212"  # hyphen, non-breaking hyphen, figure dash, minus
SEPARATOR = rf"[-/.{HYPHENS}]"  # what joins the pieces of one code
# The tokenizer: a run of letters and digits, its pieces joined by a separator.
TOKEN = re.compile(rf"[A-Za-z0-9]+(?:{SEPARATOR}[A-Za-z0-9]+)*")
# A token that does not start inside another one (for finding codes in running text).
_WHOLE_TOKEN = re.compile(rf"(?<![\w/.\-{HYPHENS}])[A-Za-z0-9]+(?:{SEPARATOR}[A-Za-z0-9]+)*")
# A code typeset with en dashes ('WP–2207–A'): only where it starts with letters, so that
# number ranges ('10–12', '3.5–5.0') stay numbers.
_EN_TOKEN = re.compile(
    rf"(?<![\w/.\-\u2013{HYPHENS}])[A-Za-z]+[A-Za-z0-9]*(?:[-/.\u2013{HYPHENS}][A-Za-z0-9]+)+"
)
# After a cue ('NSN', 'P/N') a code may be typeset with en dashes ('2910–12–345–6613').
_CUED_TOKEN = re.compile(rf"[A-Za-z0-9]+(?:[-/.\u2013{HYPHENS}][A-Za-z0-9]+)*")
# Words that say a code follows. Those in ``part`` introduce a part number (what is ordered);
# the others an NSN, a stock or a serial number, which are codes but name no part.
CUE = re.compile(
    r"(?:(?P<part>\bP/N|\bPN\b|\bkit\b|\b(?:part|order|catalog(?:ue)?)\s*(?:no\.?|number|#))"
    r"|\bNSN\b|\bS/N|\b(?:stock|serial)\s*(?:no\.?|number|#))\s*[:#]?\s*",
    re.I,
)
# 'FS 1280.2', 'GS 7721.04', 'BAT 12-180': a short uppercase prefix, a space, a number with
# a dot or dash ('ISO 5199' and 'VG 68' have none, so standards and grades stay words).
_SPACED = re.compile(
    r"(?<![\w/.\-])(?P<prefix>[A-Z]{2,4}) (?P<number>\d{2,}(?:[./-]\d+)+)(?![\w\-]|[./]\d)"
)
_NOT_PREFIX = {
    *("NSN", "PN", "NO", "SN", "REF", "ITEM", "STEP", "KIT", "SEE", "FIG", "PAGE", "TAB"),
    *("AND", "OR", "TO", "FOR", "AT", "IN", "ON", "BY", "OF", "THE", "UP", "FROM", "WITH"),
}
_ORDINAL = re.compile(r"^\d+(?:st|nd|rd|th)$", re.I)
_ISO_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
# After a cue, a short first piece may go on with spaces: 'FS 1280.2', '2906 0564 00',
# 'WP 2207 A' (a last letter piece only after a number piece).
_CONTINUE = re.compile(r" \d[A-Za-z0-9]*(?:[-/.][A-Za-z0-9]+)*")
_LAST_LETTERS = re.compile(r" [A-Z]{1,2}(?![\w\-/])")
_MAX_JOIN = 4  # pieces a source may space one code into: 'WP 2207 A', '4320 01 523 8841'
_JOINING_SPACES = (" ", "\u00a0", "\u202f")
# An equipment model as manuals name it in titles: 'P-200', 'DG-450', 'RSC-75', 'CG-90B'.
MODEL_NAME = re.compile(r"(?<![\w-])([A-Z]{1,4}-\d{2,4}[A-Z]?)(?![\w-])")
# A NATO stock number, however its four groups are separated: '2910-12-345-6613',
# '2910123456613', '2910 12 345 6613'.
_NSN = re.compile(r"(?<![\w.-])(\d{4})[- ]?(\d{2})[- ]?(\d{3})[- ]?(\d{4})(?![\w-])")


# A table column of stock or part numbers, as parts lists head them ('(3) NSN', 'PART NO.',
# 'FEDERAL STOCK NUMBER', 'P/N', 'CAGEC').
PART_COLUMN = re.compile(
    r"\b(NSN|FSN|STOCK\s+(NO|NUMBER)|PART\s+(NO|NUMBER)|P/N|CAGEC?|FSCM)\b", re.I
)
# A question for a stock or part number: what a parts-list row answers.
_ASKS_FOR_IDENTIFIER = re.compile(
    r"\b(NSNs?|FSNs?|stock\s+(no|number)s?|part\s+(no|number)s?|p/ns?|kit\s+(no|number)|"
    r"cage\s*c?o?d?e?)\b",
    re.I,
)


def asks_for_identifier(question: str) -> bool:
    """'NSN for the lock?', 'what part number…': the answer is a parts-list row."""
    return bool(_ASKS_FOR_IDENTIFIER.search(question))


def norm_part_number(text: str) -> str:
    """'WP-1143 B', 'WP1143B' and 'wp-1143-b' are one part: upper case, letters and digits.

    The chunk table's ``compact`` column (retrieval/migrations/003) is this rule in SQL."""
    return re.sub(r"[^A-Z0-9]", "", text.upper())


def tokens(text: str) -> list[str]:
    """The tokens of ``text`` in order: words, numbers and codes ('WP-2207-A', '3.5')."""
    return TOKEN.findall(text)


def split_token(token: str) -> list[str]:
    """A token's pieces: 'lube-oil' -> ['lube', 'oil']."""
    return re.split(SEPARATOR, token)


def looks_like_identifier(token: str, cued: bool = False) -> bool:
    """Does an unspaced token read as a part number, NSN, model or serial (not a number, a
    value, an ordinal, a date or a word)? After a cue ('P/N', 'NSN') four letters and digits
    with a digit among them are enough."""
    n = norm_part_number(token)
    if len(n) < 4 or not any(c.isdigit() for c in n):
        return False
    if cued:
        return True
    if _ORDINAL.match(token):
        return False
    letters = [c for c in token if c.isalpha()]
    if not letters:  # '3-8821-04', '80-1122-00', NSN '4320-01-123-4567'; not '3.5', '1/2'
        groups = re.split(rf"[-{HYPHENS}]", token)
        return len(groups) >= 3 and all(g.isdigit() for g in groups) and not _ISO_DATE.match(token)
    if all(c.isupper() for c in letters):  # 'WP-2207-A', 'P-200', 'HP24-1500', 'IP55'
        return True
    # Lower or mixed case ('wp-2207-a') only in a code's shape, so that '2-stage',
    # '4-stroke' and 'covid-19' stay words.
    return (
        token[0].isalpha()
        and re.search(r"\d{3}", token) is not None
        and all(len(run) <= 4 for run in re.findall(r"[A-Za-z]+", token))
    )


def cued_codes(text: str, value_starts: set[int] | None = None) -> Iterator[tuple[re.Match, int]]:
    """Codes introduced by a cue, as (cue match, end of the code); the code starts where the
    cue ends. A code's further spaced pieces stop where a value with a unit starts
    (``value_starts``, found here when not given), except the number after a letter prefix:
    'P/N WP 2207 A' is no 2207 amperes."""
    if value_starts is None:
        value_starts = {m.start() for m, _ in find_quantities(text)}
    for cue in CUE.finditer(text):
        m = _CUED_TOKEN.match(text, cue.end())
        if not m:
            continue
        end = m.end()
        first = m.group(0)
        if re.fullmatch(r"[A-Za-z0-9]{1,4}", first) and first.upper() not in _NOT_PREFIX:
            # A letter prefix ('WP', 'FS') needs the number after it even where that reads as
            # a value ('WP 2207 A'); further pieces stop where a value starts. A word is no
            # prefix: 'kit: the 2,000 h service kit' names no code 'the 2'.
            grew = False
            while (more := _CONTINUE.match(text, end)) and (
                end + 1 not in value_starts or (not grew and first.isalpha())
            ):
                end, grew = more.end(), True
            if grew and (last := _LAST_LETTERS.match(text, end)):
                end = last.end()
        if looks_like_identifier(text[m.start() : end], cued=True):
            yield cue, end


def cued_part_numbers(text: str) -> list[str]:
    """Part numbers introduced by a part cue: 'P/N WP-2207-B', 'part number BRG-7309-BEP',
    'kit SBK-2407-P200'. An NSN or a serial number after its own cue names no part."""
    return [text[cue.end() : end] for cue, end in cued_codes(text) if cue.group("part")]


def spaced_codes(text: str) -> Iterator[re.Match]:
    """Codes written with one space after a short prefix and no cue: 'FS 1280.2'."""
    for m in _SPACED.finditer(text):
        digits = sum(c.isdigit() for c in m.group("number"))
        if m.group("prefix") not in _NOT_PREFIX and digits >= 4:
            yield m


def code_tokens(text: str) -> Iterator[re.Match]:
    """Whole tokens (en-dashed codes first) that read as codes without a cue."""
    for rx in (_EN_TOKEN, _WHOLE_TOKEN):
        for m in rx.finditer(text):
            if looks_like_identifier(m.group(0)):
                yield m


def identifier_keys(text: str) -> set[str]:
    """Every code ``text`` may be naming, compacted: each token whole and, where the text
    spaces a code ('WP 2207 A'), runs of up to four space-separated pieces; never a part of
    a token, so 'WP-2207-A' never yields 'WP2207'."""
    keys: set[str] = set()

    def add(key: str) -> None:
        if looks_like_identifier(key, cued=True):
            keys.add(key)

    for m in _EN_TOKEN.finditer(text):
        add(norm_part_number(m.group(0)))
    runs = list(TOKEN.finditer(text))
    for i, m in enumerate(runs):
        joined = norm_part_number(m.group(0))
        add(joined)
        for nxt in range(i + 1, min(i + _MAX_JOIN, len(runs))):
            if text[runs[nxt - 1].end() : runs[nxt].start()] not in _JOINING_SPACES:
                break
            joined += norm_part_number(runs[nxt].group(0))
            add(joined)
    return keys | stock_number_keys(text)


def contains_identifier(text: str, identifier: str) -> bool:
    """Does ``text`` name ``identifier``, however either spells it? 'Fit wp 2207 a' names
    WP-2207-A; 'Fit WP-2207-A' does not name WP-2207."""
    return norm_part_number(identifier) in identifier_keys(text)


_SERIAL_BEFORE = re.compile(r"(?:\bserial\s*(?:no\.?|number|#)?|\bS/N)\s*[:#]?\s*$", re.I)


def model_codes(text: str) -> set[str]:
    """The codes a text names a machine or model by, compacted: 'GENERATOR 3002AD',
    '(Models 5504AA and 5504AB)', 'S-250/G', 'M1113/M1114' (two: each piece is a code).
    Tokens that mix letters and digits and read as an identifier; paragraph, table and
    work-package numbers ('2-12.', 'Table 2-4', 'WP 0025 00') have no letters in one token,
    and a serial number ('serial number HP24-1620') names one unit, not a model."""
    out: set[str] = set()
    for m in TOKEN.finditer(text):
        tok = m.group(0)
        if not any(c.isalpha() for c in tok) or not looks_like_identifier(tok):
            continue
        if _SERIAL_BEFORE.search(text[max(0, m.start() - 24) : m.start()]):
            continue
        pieces = tok.split("/")
        if len(pieces) > 1 and all(
            any(c.isalpha() for c in p) and looks_like_identifier(p) for p in pieces
        ):
            out.update(norm_part_number(p) for p in pieces)
        else:
            out.add(norm_part_number(tok))
    return out


def contains_compacted(text: str, identifier: str) -> bool:
    """Search's looser test: the compacted identifier anywhere in the compacted text, as the
    keyword index matches it (retrieval/migrations/003), so 'P-200' is found in 'SK-P200-45'.
    For ranking what to read; what is shown as fact is checked with ``contains_identifier``."""
    return norm_part_number(identifier) in norm_part_number(text)


def dash_nsns(text: str) -> str:
    """Every NSN in ``text`` written as four dashed groups: '2910123456613' ->
    '2910-12-345-6613'."""
    return _NSN.sub(r"\1-\2-\3-\4", text)


# A federal stock number of the 1970s lists: four digits of supply class, then the 7-digit
# item number in groups of 3 and 4 ('2920-078-2351'). The NSN that replaced it put a
# 2-digit country code in between: '2920-00-078-2351' (00: the United States).
_FSN = re.compile(r"(?<![\w.-])(\d{4})[- ](\d{3})[- ](\d{4})(?![\w-])")


def norm_nsn(text: str) -> str:
    """One spelling of a stock number, so a search for either form finds both: 13-digit NSNs
    dashed ('5306012345678' -> '5306-01-234-5678'), 4-3-4 FSNs as the NSN they became
    ('2920-078-2351' -> '2920-00-078-2351'). Anything else is returned as it is."""
    text = text.strip()
    if m := _FSN.fullmatch(text):
        return f"{m.group(1)}-00-{m.group(2)}-{m.group(3)}"
    if m := _NSN.fullmatch(text):
        return "-".join(m.groups())
    return text


def stock_number_keys(text: str) -> set[str]:
    """The compacted NSN of every stock number in ``text``, FSNs included: a search for
    '2920-00-078-2351' and one for '2920-078-2351' both give '2920000782351'."""
    found = {norm_part_number("".join(m.groups())) for m in _NSN.finditer(text)}
    found |= {f"{m.group(1)}00{m.group(2)}{m.group(3)}" for m in _FSN.finditer(text)}
    return found
