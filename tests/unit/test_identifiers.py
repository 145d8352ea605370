"""One rule for what a code is: extraction, the guard and retrieval read codes alike.

Where the copies of the rule used to disagree, these tests pin the behaviour chosen."""

import pytest

from maint.identifiers import (
    contains_compacted,
    contains_identifier,
    cued_codes,
    cued_part_numbers,
    identifier_keys,
    looks_like_identifier,
    model_codes,
    tokens,
)
from retrieval.query import identifier_candidates
from serving.answering.guard import find_claims


@pytest.mark.parametrize(
    ("text", "part_number"),
    [
        ("Order P/N WP-2207-B.", "WP-2207-B"),
        ("Order PN WP-2207-B.", "WP-2207-B"),  # the extractor's cue lacked 'PN'
        ("PART NO. WP-2207-B", "WP-2207-B"),  # ... and upper-case 'PART NO.'
        ("part #: WP-2207-B", "WP-2207-B"),
        ("order no. WP-2207-B", "WP-2207-B"),
        ("catalogue number WP-2207-B", "WP-2207-B"),
        ("use part number GS 7721.04, then", "GS 7721.04"),
        ("Fit P/N WP 2207 A at once.", "WP 2207 A"),
    ],
)
def test_part_cues_are_read_alike_by_the_extractor_and_the_guard(text, part_number):
    assert cued_part_numbers(text) == [part_number]
    assert [c.text for c in find_claims(text) if c.kind == "part_number"] == [part_number]


@pytest.mark.parametrize(
    ("text", "code"),
    [
        ("NSN 5310-01-698-4417", "5310-01-698-4417"),
        ("S/N HP24-1500", "HP24-1500"),
        ("stock no. 5310-01-698-4417", "5310-01-698-4417"),
        ("serial number HP24-1500", "HP24-1500"),
    ],
)
def test_nsn_and_serial_cues_introduce_codes_but_no_part(text, code):
    assert [text[cue.end() : end] for cue, end in cued_codes(text)] == [code]
    assert cued_part_numbers(text) == []  # an NSN or a serial is no Part of the graph


def test_a_word_after_a_cue_is_no_code_prefix():
    text = "supplied as a kit: the 2,000 h service kit KT-2000-RSC contains"
    assert cued_part_numbers(text) == ["KT-2000-RSC"]
    assert [c.text for c in find_claims(text)] == ["2,000 h", "KT-2000-RSC"]


def test_one_tokenizer_keeps_a_code_with_non_breaking_hyphens_whole():
    code = "WP\u20112207\u2011A"
    assert tokens(f"Fit {code}, 3.5 bar") == ["Fit", code, "3.5", "bar"]
    assert identifier_candidates("WP\u20112207\u2011A torque") == ["WP2207A"]


def test_what_looks_like_a_code():
    assert all(map(looks_like_identifier, ["WP-2207-A", "P-200", "IP55", "3-8821-04"]))
    assert not any(map(looks_like_identifier, ["3.5", "1/2", "2024-07-01", "21st", "4-stroke"]))
    assert looks_like_identifier("2207", cued=True) and not looks_like_identifier("2207")
    assert identifier_candidates("the 21st stage at 2000 hours") == []


def test_a_code_is_never_cut_but_search_reads_compacted_text():
    assert contains_identifier("Fit wp 2207 a.", "WP-2207-A")
    assert not contains_identifier("Fit WP-2207-A.", "WP-2207")
    assert "WP2207A" in identifier_keys("Fit WP 2207 A.")
    assert contains_compacted("kit SK-P200-45", "P-200")  # ranking only, never verification
    assert not contains_identifier("kit SK-P200-45", "P-200")


def test_a_heading_names_models_by_codes_not_by_paragraph_numbers():
    """Selection prefers the section about the asked model (serving/answering/evidence.py):
    a heading's codes are its tokens mixing letters and digits, never '2-12.' or 'WP 0025 00'."""
    heading = "Section IV. LEECE-NEVILLE MODEL GENERATOR 3002AD > 2-12. ROTOR > Table 2-4. Limits"
    assert model_codes(heading) == {"3002AD"}
    assert model_codes("Bell and Rotor Assembly (Models 5504AA and 5504AB)") == {"5504AA", "5504AB"}
    assert model_codes("S-250/G shelter, M1113/M1114") == {"S250G", "M1113", "M1114"}
    assert model_codes("a P-200 with serial number HP24-1620") == {"P200"}
    assert model_codes("WP 0025 00 GROUP 00 PARTS LIST > Table 0002 00-1. Data") == set()
    assert model_codes("a 60-amp test, l/4-inch brushes") == set()
