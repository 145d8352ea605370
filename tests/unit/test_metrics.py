"""Domain metrics, validated on the dev set's own reference answers: every answerable
reference contains its required items, every unanswerable one reads as a refusal, and none
names a part number or value the sample manuals do not contain."""

import json

import pytest

from eval.metrics import (
    REFUSAL,
    AnswerScore,
    cited_numbers,
    contains_all,
    hallucinated_items,
    holds_evidence,
    is_refusal,
    is_safety_item,
    missing_items,
    normalise_answer_text,
    score_answer,
)
from ingestion.chunker import chunk_blocks, to_blocks
from ingestion.parsers import parse_file
from serving.answering.guard import SourceIndex
from tests.helpers import ROOT

DEV = [json.loads(line) for line in (ROOT / "data/eval/dev.jsonl").read_text().splitlines()]
ANSWERABLE = [r for r in DEV if r["answer_type"] != "unanswerable"]
UNANSWERABLE = [r for r in DEV if r["answer_type"] == "unanswerable"]
# The one reference that names something outside the corpus: it repeats the question's
# P-300, a pump the manuals do not cover, in order to say so.
ECHOES_THE_QUESTION = {"p200-026": ["P-300"]}


@pytest.fixture(scope="module")
def corpus() -> SourceIndex:
    texts = []
    for path in sorted((ROOT / "data/samples/manuals").iterdir()):
        parsed = parse_file(path, path.read_bytes())
        chunks = chunk_blocks(path.name, to_blocks(parsed), lambda s: len(s.split()))
        texts += [c.text for c in chunks]
    return SourceIndex(texts)


def test_dev_set_shape():
    assert len(DEV) == 85 and len(UNANSWERABLE) == 13


@pytest.mark.parametrize("row", ANSWERABLE, ids=lambda r: r["id"])
def test_reference_answers_contain_their_required_items(row):
    assert missing_items(row["answer"], row["must_contain"]) == []
    assert not is_refusal(row["answer"])


@pytest.mark.parametrize("row", UNANSWERABLE, ids=lambda r: r["id"])
def test_unanswerable_references_read_as_refusals(row):
    assert is_refusal(row["answer"])


def test_reference_answers_name_nothing_outside_the_corpus(corpus):
    found = {}
    for row in DEV:
        items = [c.text for c in hallucinated_items(row["answer"], corpus)]
        if items:
            found[row["id"]] = items
    assert found == ECHOES_THE_QUESTION


def test_reference_answers_score_correct(corpus):
    for row in DEV:
        score = score_answer(row["answer"], row, corpus)
        assert score.correct, score
        assert score.refused == (row["answer_type"] == "unanswerable")


@pytest.mark.parametrize(
    "answer, item",
    [
        ("Torque it to 80 Nm.", "80 N·m"),
        ("Torque it to 80 N-m.", "80 N·m"),
        ("Torque it to 80 N m.", "80 N·m"),
        ("torque it to 80 n·m.", "80 N·m"),
        ("About 59 ft-lb.", "59 lbf·ft"),
        ("About 59 lb-ft.", "59 lbf·ft"),
        ("Let it cool below 40 deg C.", "40 °C"),
        ("Let it cool below 40°C.", "40 °C"),
        ("Use filter flt\u201177210.", "FLT-77210"),
        ("Use filter FLT–77210.", "FLT-77210"),
        ("Every 2000 operating hours.", "2,000"),
        ("Every 2\u2009000 operating hours.", "2,000"),
        ("Every 1000 h.", "1,000 h"),
        ("Pressure 3.5-5.0 bar.", "3.5–5.0 bar"),
        ("Pressure 3.5 to 5.0 bar.", "3.5–5.0 bar"),
        ("Clean the coolers.", "cooler"),
        ("12.4 m3/min of free air.", "12.4 m³/min"),
        ("Fuel filter FS 1280.2.", "FS 1280.2"),
    ],
)
def test_spelling_variants_count(answer, item):
    assert contains_all(answer, [item])


@pytest.mark.parametrize(
    "answer, item",
    [
        ("Torque it to 8 N·m.", "80 N·m"),
        ("Torque it to 180 N·m.", "80 N·m"),
        ("Torque it to 80 lbf·ft.", "80 N·m"),
        ("Fill 138 L.", "38 L"),
        ("Fill 38 lb.", "38 L"),
        ("About 24.5 L.", "24"),
        ("Use FLT-772101.", "FLT-77210"),
        ("Use FS 1280.25.", "FS 1280.2"),
        ("Unlock it.", "lock"),
    ],
)
def test_near_misses_do_not_count(answer, item):
    assert not contains_all(answer, [item])


def test_contains_all_needs_every_item():
    assert contains_all("0.30 mm intake, 0.50 mm exhaust", ["0.30 mm", "0.50 mm"])
    assert not contains_all("0.30 mm intake", ["0.30 mm", "0.50 mm"])
    assert contains_all("anything", [])


def test_normalised_text():
    assert normalise_answer_text("Torque  80 Nm (59 ft-lb),\u00a0every 2,000 h") == (
        "torque 80 n·m (59 lbf·ft), every 2000 h"
    )


@pytest.mark.parametrize(
    "answer",
    [
        f"This is {REFUSAL}.",
        "I'm sorry, this is not in the documentation.",
        "That is not covered in the documentation.",
        "The manuals do not contain this information.",
        "The P-200 manual does not specify the motor bearing grease.",
        "The documentation doesn't give an injector opening pressure.",
        "The parts list does not include the fan motor.",
        "The manual gives no derating factors.",
        "There is no information on this in the manuals.",
        "I cannot find this in the provided context.",
    ],
)
def test_refusals(answer):
    assert is_refusal(answer)


@pytest.mark.parametrize(
    "answer",
    [
        "No. Never run the pump dry, not even briefly.",
        "No action is required for pumps with serial number HP24-1500 and later.",
        "Tighten the impeller nut to 110 N·m (81 lbf·ft).",
        "The documentation says to use 110 N·m with lock washer WP-2207-B.",
        "Do not re-use a lock washer; the manual requires a new one.",
        "Not more than 0.05 mm.",
        "The manual gives 95 N·m for pumps that still have WP-2207-A.",
    ],
)
def test_answers_are_not_refusals(answer):
    assert not is_refusal(answer)


def test_hallucinated_items_from_texts_or_an_index():
    corpus = ["Lock washer WP-2207-B, tighten to 110 N·m (81 lbf·ft)."]
    answer = "Fit WP-2207-B or WP-9999-Z and tighten to 110 Nm, or 120 N·m."
    expected = ["WP-9999-Z", "120 N·m"]
    assert [c.text for c in hallucinated_items(answer, corpus)] == expected
    assert [c.text for c in hallucinated_items(answer, SourceIndex(corpus))] == expected


@pytest.mark.parametrize(
    "answer",
    [
        "NSN 2910-12-345-6613",
        "NSN 2910123456613",
        "NSN 2910 12 345 6613",
        "nsn: 2910–12–345–6613, qty 2",
        "stock no. 2910\u201112\u2011345\u20116613",
    ],
)
def test_nsn_formats_count(answer):
    assert contains_all(answer, ["2910-12-345-6613"])
    assert contains_all(answer, ["2910123456613"])


@pytest.mark.parametrize(
    "answer",
    ["NSN 2910-01-345-6613", "NSN 2910-12-345-66131", "NSN 12910-12-345-6613", "2910-12-345"],
)
def test_nsn_near_misses_do_not_count(answer):
    assert not contains_all(answer, ["2910-12-345-6613"])


CORPUS = SourceIndex(
    [
        "Lock washer WP-2207-B, tighten to 110 N·m (81 lbf·ft). Old washer WP-2207-A: 95 N·m.",
        "Secondary fuel filter FS 1280.2, NSN 2910-12-345-6613, qty 2.",
    ]
)
SPEC = {
    "id": "x-1",
    "answer_type": "spec",
    "question": "Impeller nut torque with the new lock washer?",
    "answer": "110 N·m (81 lbf·ft) with lock washer WP-2207-B.",
    "must_contain": ["110 N·m"],
    "evidence": "Lock washer WP-2207-B, tighten to 110 N·m (81 lbf·ft).",
}


def test_score_answer_correct_and_supported():
    good = score_answer("110 Nm with WP-2207-B.", SPEC, CORPUS)
    assert good == AnswerScore("x-1", "spec", correct=True, refused=False)
    assert not good.part_hallucination and not good.value_hallucination
    assert not score_answer(REFUSAL, SPEC, CORPUS).correct


def test_invented_and_unsupported_items_are_told_apart():
    # WP-2207-A and 95 N·m are real (in the corpus) but not the gold: unsupported.
    wrong = score_answer("95 N·m with WP-2207-A.", SPEC, CORPUS)
    assert not wrong.correct and wrong.missing == ["110 N·m"]
    assert wrong.unsupported_parts == ["WP-2207-A"] and wrong.unsupported_values == ["95 N·m"]
    assert wrong.invented_parts == wrong.invented_values == [] and wrong.hallucinated == []
    assert wrong.part_hallucination and wrong.value_hallucination
    # WP-9999-Z and 120 N·m are nowhere in the corpus: invented.
    made_up = score_answer("110 N·m, or 120 Nm with WP-9999-Z.", SPEC, CORPUS)
    assert made_up.correct  # the required value is there, and so is an invented one
    assert made_up.invented_parts == ["WP-9999-Z"] and made_up.invented_values == ["120 Nm"]
    # The question's own part number is no hallucination; another spelling of gold is none.
    q = {**SPEC, "question": "Does WP-2207-A still fit?"}
    assert score_answer("WP 2207 A: 110 N·m.", q, CORPUS).unsupported_parts == []
    assert score_answer("81 ft-lb (110 N m).", SPEC, CORPUS).unsupported_values == []


def test_unanswerable_scoring():
    none = {"id": "x-2", "answer_type": "unanswerable", "question": "Injector pressure?"}
    assert score_answer("This is not in the documentation.", none, CORPUS).correct
    invented = score_answer("Use part WP-4711-Q.", none, None)  # no corpus: only the gold
    assert not invented.correct and invented.hallucinated == []
    assert invented.unsupported_parts == ["WP-4711-Q"] and invented.part_hallucination
    assert score_answer("Use part WP-4711-Q.", none, CORPUS).invented_parts == ["WP-4711-Q"]
    assert json.dumps(invented.to_dict())


SAFETY = {
    "id": "s-1",
    "answer_type": "safety",
    "question": "Is it safe to open the radiator cap right after a run?",
    "must_contain": ["40 °C"],
    "evidence": "Let the engine cool until the coolant temperature is below 40 °C, then turn "
    "the cap slowly to the first stop to release the pressure before you remove it.",
}


def test_safety_coverage():
    carried = (
        "No. Let the engine cool until the coolant is below 40 deg C, then turn the cap "
        "slowly to the first stop to release pressure before removing it."
    )
    assert score_answer(carried, SAFETY, None).safety_covered is True
    # The number alone does not carry the warning; the warning without the number does not.
    assert score_answer("Wait until it is below 40 °C.", SAFETY, None).safety_covered is False
    no_value = "Let the engine cool, turn the cap slowly to the first stop to release pressure."
    assert score_answer(no_value, SAFETY, None).safety_covered is False
    assert score_answer("110 N·m", SPEC, None).safety_covered is None  # not a safety question
    proc = {**SPEC, "answer_type": "procedure", "evidence": "Never run the pump dry."}
    assert is_safety_item(proc) and not is_safety_item({**proc, "evidence": "Tighten it."})


def test_citation_accuracy():
    holds = "Table 4 | Lock washer WP-2207-B, tighten to | 110 N·m (81 lbf·ft).\nNext row"
    other = "Old washer WP-2207-A: 95 N·m."
    assert score_answer("110 N·m [1].", SPEC, None, [holds]).citation_correct is True
    assert score_answer("110 N·m [2].", SPEC, None, [other]).citation_correct is False
    assert score_answer("110 N·m [1][2].", SPEC, None, [other, holds]).citation_correct is True
    assert score_answer("110 N·m.", SPEC, None, []).citation_correct is None  # nothing cited
    assert cited_numbers("See [1] and [12], not [x] or [123].") == {1, 12}
    assert holds_evidence(holds, SPEC["evidence"]) and not holds_evidence(other, "")
