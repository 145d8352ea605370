"""The part-number and value guard: planted wrong items are caught, the manual's own items
pass in any spelling, and nothing that is not a code or a value is flagged."""

import json

import pytest

from ingestion.chunker import chunk_blocks, to_blocks
from ingestion.parsers import parse_file
from maint.units import canonical_unit
from serving.answering.guard import SourceIndex, check, find_claims, mark_unsupported
from tests.helpers import SAMPLES

MANUALS = SAMPLES
BULLETIN = MANUALS / "sb-2024-07-p200-impeller.txt"
# Lines as the bulletin writes them, and graph facts as retrieval renders them.
SOURCES = [
    "- Pumps with serial numbers HP19-0001 to HP24-1499 were built with lock washer\n"
    "  WP-2207-A and an impeller nut torque of 95 N·m (70 lbf·ft).",
    "Order retrofit kit P/N SBK-2407-P200 for each pump.",
    "P-200 impeller nut torque: 95 N·m (70 lbf·ft)",
    "P-200 part WP-2207-B: Lock washer, impeller nut, 1.5 mm; NSN 5310-01-698-4417; qty 1",
    "Replace the primary element (P/N FS 1280.2) every 500 h.",
    "Normal oil pressure at rated speed is 3.5–5.0 bar. Let the pump cool to below 40 °C.",
]


def verdict(answer: str, sources: list[str] = SOURCES):
    return check(answer, sources)


@pytest.fixture(scope="module")
def bulletin_chunks() -> list[str]:
    parsed = parse_file(BULLETIN, BULLETIN.read_bytes())
    return [c.text for c in chunk_blocks("sb", to_blocks(parsed), lambda s: len(s.split()))]


@pytest.mark.parametrize(
    "answer",
    [
        "Fit lock washer WP-2207-A.",
        "Fit lock washer wp2207a.",
        "Fit lock washer wp-2207-a.",
        "Fit lock washer WP\u20112207\u2011A.",  # non-breaking hyphens
        "Fit lock washer P/N WP 2207 A.",
        "Order kit SBK2407P200.",
        "Primary filter: FS 1280.2.",
        "Primary filter: P/N FS1280.2.",
        "NSN 5310-01-698-4417.",
        "Serial HP24-1499 and earlier.",
        "Tighten to 95 N·m.",
        "Tighten to 95 Nm.",
        "Tighten to 95 N m.",
        "Tighten to 95 N-m.",
        "Tighten to 95.0 N·m.",
        "Tighten to 70 lbf·ft.",
        "Tighten to 70 lb-ft.",
        "Tighten to 70 ft-lb.",
        "Tighten to 70 ft lbs.",
        "Tighten to 70 ft·lbf.",
        "Tighten to 70 lbf ft.",
        "Oil pressure 3.5–5.0 bar.",
        "Oil pressure 3.5 to 5.0 bar.",
        "Oil pressure at least 3.5 bar.",
        "Let it cool below 40 deg C.",
        "Let it cool below 40°C.",
        "Replace every 500 h.",
        "Replace every 500 hours.",
        "Replace every 500 operating hours.",
    ],
)
def test_the_manuals_items_pass_in_any_spelling(answer):
    v = verdict(answer)
    assert v.claims and v.verified, v.to_dict()


@pytest.mark.parametrize(
    "answer, wrong",
    [
        ("Fit lock washer WP-2207-C.", "WP-2207-C"),
        ("Fit lock washer WP-2270-A.", "WP-2270-A"),
        ("Fit lock washer WP-2207.", "WP-2207"),  # a prefix of the real one is not it
        ("Fit lock washer WP-2207-AB.", "WP-2207-AB"),
        ("Fit lock washer WP–2207–C.", "WP–2207–C"),  # en dashes
        ("Order kit SBK-2407-P20.", "SBK-2407-P20"),
        ("NSN 5310-01-698-4418.", "5310-01-698-4418"),
        ("Primary filter: FS 1280.3.", "FS 1280.3"),
        ("Tighten to 59 N·m.", "59 N·m"),
        ("Tighten to 95 lbf·ft.", "95 lbf·ft"),  # right number, wrong unit
        ("Tighten to 96 N·m.", "96 N·m"),
        ("Tighten to 9.5 N·m.", "9.5 N·m"),
        ("Tighten to 71 lbf·ft.", "71 lbf·ft"),
        ("Oil pressure 3.5–6.0 bar.", "3.5–6.0 bar"),
        ("Let it cool below 40 °F.", "40 °F"),
        ("Replace every 5,000 h.", "5,000 h"),
        ("Replace every 600 operating hours.", "600 operating hours"),
    ],
)
def test_planted_wrong_items_are_caught(answer, wrong):
    v = verdict(answer)
    assert not v.verified
    assert [c.text for c in v.unsupported] == [wrong]


def test_converted_values_pass_only_when_they_round_to_what_is_written():
    source = ["Tighten to 95 N·m. Wear ring clearance 0.30 mm. Test at 16 bar. Heat to 40 °C."]
    ok = "Tighten to 70 lbf·ft (9.7 kgf·m), 0.012 in. clearance, 232 psi, heat to 104 °F."
    assert check(ok, source).verified
    for wrong in ("71 lbf·ft", "0.013 in.", "240 psi", "106 °F", "97 N·m"):
        assert not check(f"Use {wrong}.", source).verified, wrong


def test_the_manuals_own_rounding_does_not_verify_a_neighbouring_value():
    # 81 lbf·ft is 109.8 N·m, but the manual says 110 N·m: 109 and 111 N·m are wrong.
    source = ["Tighten the impeller nut to 110 N·m (81 lbf·ft)."]
    assert check("Tighten to 110 N·m (81 lbf·ft).", source).verified
    assert not check("Tighten to 109 N·m.", source).verified
    assert not check("Tighten to 111 N·m.", source).verified


def test_a_range_needs_both_ends_and_a_value_may_be_one_end():
    source = ["Calibrated torque wrench, 40 to 200 N·m. Low oil pressure alarm 2.0 bar."]
    assert check("A 40–200 N·m wrench.", source).verified
    assert check("A wrench that reaches 200 N·m.", source).verified
    assert not check("A 40–250 N·m wrench.", source).verified
    assert not check("The alarm comes at 2.5 bar.", source).verified


def test_table_cells_take_their_unit_from_the_header_or_unit_column():
    table = (
        "Fastener | Size | N·m | lbf·ft\n"
        "Oil drain plug | M33×2 | 80 | 59\n"
        "Breather valve | M22×1.5 | 40 | 30"
    )
    specs = "Parameter | Value | Unit\nRated speed | 1500 | rpm\nRated output torque | 8300 | N·m"
    assert check("Drain plug: 80 N·m (59 lb-ft).", [table]).verified
    assert check("1500 rpm and 8300 Nm.", [specs]).verified
    assert check("8.3 kN·m.", [specs]).verified
    assert not check("Drain plug: 59 N·m.", [table]).verified


@pytest.mark.parametrize(
    "text",
    [
        "Close the suction and discharge valves before starting work.",
        "Tighten 95 of them, 2,000 times, in 3.5 turns.",
        "See section 7.12, step 4, and figure 3 [2].",
        "Issued 15 July 2024; revision 2; in 2024-07-15 format.",
        "Check cylinders 1, 2 and 4; an M24 x 2 thread; ISO VG 68 oil; EN ISO 5199.",
        "A 2-stage, 4-stroke engine on its 1st and 2nd run; covid-19 rules.",
        "Call +47 51 00 20 00.",
    ],
)
def test_ordinary_text_has_no_claims_and_is_verified(text):
    assert find_claims(text) == []
    v = check(text, [])
    assert v.verified and v.claims == [] and v.unsupported == []


def test_claims_are_typed_and_normalised():
    claims = find_claims(
        "Use P/N WP-2207-B (NSN 5310-01-698-4417), kit 3-8821-04, FS 1282.4, P-200 "
        "S/N HP24-1500, at 110 Nm (81 ft-lb) and 3.5 to 5.0 bar."
    )
    assert [(c.kind, c.norm) for c in claims] == [
        ("part_number", "WP2207B"),
        ("part_number", "5310016984417"),
        ("part_number", "3882104"),
        ("part_number", "FS12824"),
        ("part_number", "P200"),
        ("part_number", "HP241500"),
        ("value", "110 N·m"),
        ("value", "81 lbf·ft"),
        ("value", "3.5–5.0 bar"),
    ]
    text = "Use P/N WP-2207-B now"
    (c,) = find_claims(text)
    assert text[c.start : c.end] == c.text == "WP-2207-B"


def test_unit_spellings_have_one_canonical_form():
    assert {canonical_unit(u) for u in ("N·m", "Nm", "N m", "N-m", "N.m")} == {"N·m"}
    spellings = ("lbf·ft", "lb-ft", "ft-lb", "ft·lbf", "lbf ft", "ft lbs", "lb ft", "lbf-ft")
    assert {canonical_unit(u) for u in spellings} == {"lbf·ft"}
    assert {canonical_unit(u) for u in ("°C", "deg C", "° C", "degC")} == {"°C"}
    assert {canonical_unit(u) for u in ("°F", "deg F", "degF")} == {"°F"}
    assert canonical_unit("in.") == canonical_unit("in") == "in"


def test_mark_unsupported_marks_exactly_the_unsupported_spans():
    answer = "Fit WP-2207-C and WP-2207-A, then tighten to 59 N·m (70 lbf·ft)."
    v = verdict(answer)
    assert [c.text for c in v.unsupported] == ["WP-2207-C", "59 N·m"]
    assert mark_unsupported(answer, v) == (
        "Fit [unverified: WP-2207-C] and WP-2207-A, then tighten to [unverified: 59 N·m] "
        "(70 lbf·ft)."
    )
    ok = verdict("Fit WP-2207-A.")
    assert mark_unsupported("Fit WP-2207-A.", ok) == "Fit WP-2207-A."


def test_no_claims_is_verified_and_result_is_json():
    v = verdict("Lock out the motor first.")
    assert v.verified and json.loads(json.dumps(v.to_dict())) == {
        "verified": True,
        "claims": [],
        "unsupported": [],
    }
    d = verdict("Use WP-9999-Z at 95 N·m.").to_dict()
    assert d["verified"] is False
    assert d["claims"] == [
        {"kind": "part_number", "text": "WP-9999-Z", "norm": "WP9999Z"},
        {"kind": "value", "text": "95 N·m", "norm": "95 N·m"},
    ]
    assert d["unsupported"] == [d["claims"][0]]


def test_no_sources_supports_nothing():
    assert not check("Use WP-2207-A.", []).verified
    assert not check("Tighten to 95 N·m.", []).verified


def test_an_index_is_built_once_and_reused():
    index = SourceIndex(SOURCES)
    for c in find_claims("WP-2207-B at 95 N·m, SBK-2407-P200, 5310-01-698-4417"):
        assert index.supports(c), c
    assert not any(index.supports(c) for c in find_claims("WP-2207-Z at 96 N·m"))


def test_a_retrofit_answer_against_the_real_bulletin(bulletin_chunks):
    answer = (
        "Order retrofit kit P/N SBK-2407-P200. Remove the back pull-out unit and the old lock "
        "washer WP-2207-A; fit the new lock washer WP-2207-B (NSN 5310-01-698-4417) with both "
        "tabs in the keyway, apply anti-seize compound 80-1122-00, and tighten the impeller "
        "nut to 110 Nm (81 ft-lb), at most 120 N·m (89 lbf·ft) to align a tab. Replace the "
        "wear ring at 0.90 mm; pumps from S/N HP24-1500 need no action (SB-2024-07)."
    )
    v = check(answer, bulletin_chunks)
    assert v.verified, v.to_dict()
    assert len(v.claims) == 12

    planted = (
        answer.replace("WP-2207-B", "WP-2207-C")
        .replace("110 Nm", "95 Nm")  # the old torque is in the bulletin: still supported
        .replace("120 N·m", "130 N·m")
        .replace("HP24-1500", "HP24-1550")
    )
    v = check(planted, bulletin_chunks)
    assert [c.text for c in v.unsupported] == ["WP-2207-C", "130 N·m", "HP24-1550"]
    marked = mark_unsupported(planted, v)
    assert "[unverified: WP-2207-C]" in marked and "[unverified: 130 N·m]" in marked
    assert marked.count("[unverified:") == 3


def test_model_names_need_the_title_the_model_was_shown():
    chunk = "7. Tighten the impeller nut to 95 N·m (70 lbf·ft) with a torque wrench."
    answer = "On the P-200, tighten the impeller nut to 95 N·m."
    assert [c.text for c in check(answer, [chunk]).unsupported] == ["P-200"]
    title = "P-200 End-Suction Centrifugal Pump, 7.9 Installing the impeller"
    assert check(answer, [chunk, title]).verified


def test_spaced_codes_without_a_cue():
    claims = find_claims("Battery BAT 12-180, fuel filter FS 1282.4, seal GS 7721.04.")
    assert [c.norm for c in claims] == ["BAT12180", "FS12824", "GS772104"]
    assert find_claims("Oil ISO VG 68 to EN ISO 5199, SEE 12-180") == []


def test_a_value_must_be_in_the_source_it_cites():
    from serving.answering.guard import SourceIndex, check, check_citations

    sources = {
        1: SourceIndex(["Radiator cap opening pressure 0.9 bar."]),
        2: SourceIndex(["Safety valve set pressure 9.3 bar."]),
    }
    answer = "The injector opening pressure is 9.3 bar [1]."
    first = check(answer, ["Radiator cap opening pressure 0.9 bar.", "Safety valve 9.3 bar."])
    assert first.verified  # present in the context...
    result = check_citations(answer, first, sources)
    assert not result.verified and [c.text for c in result.unsupported] == ["9.3 bar"]
    ok = "The safety valve opens at 9.3 bar [2]. The cap at 0.9 bar [1]."
    assert check_citations(ok, check(ok, ["0.9 bar", "9.3 bar"]), sources).verified
    uncited = "It opens at 9.3 bar."  # no marker: presence in the context is what counts
    assert check_citations(uncited, check(uncited, ["9.3 bar"]), sources).verified
