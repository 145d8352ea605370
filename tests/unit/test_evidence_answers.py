"""The pieces of evidence-first answers that need no store or model: question kinds, the
draft filter, the number constraint's rule, selection and composition of units."""

from __future__ import annotations

import pytest

from retrieval.base import Hit
from retrieval.hybrid import Retrieval
from serving.answering.compose import compose, procedure_chunks, shown_units
from serving.answering.drafts import NumberConstraint, allowed_words, degenerate
from serving.answering.evidence import (
    FEATURES,
    AnswerUnit,
    Question,
    featurise,
    is_pointer_row,
    numbers,
    states_value,
)
from serving.answering.kinds import question_kind
from serving.answering.selector import LinearSelector, fit, select


@pytest.mark.parametrize(
    ("question", "kind"),
    [
        ("What torque does the sump drain plug on the DG-450 need?", "spec"),
        ("What's the NSN and part number for the voltage regulator on a 3002AD?", "part_number"),
        ("Which oil filter element does the RSC-75 use?", "part_number"),
        ("How do I swap a damaged lifting ring on the CBC?", "procedure"),
        ("How is the safety valve on the RSC-75 tested?", "procedure"),
        ("Can I run the P-200 without liquid to check its direction of rotation?", "safety"),
        ("How often must the RSC-75 safety valve be tested?", "interval"),
        ("What's the point of the rear differential cooler kit on the M1113?", "explanation"),
        # A kit named, a value asked: the epoxy's shelf life, not a parts row.
        ("What's the shelf life on the epoxy in CBC repair kit 104276-1?", "spec"),
        ("Which repair kit goes on the CBC shell?", "part_number"),
        ("Kit number and NSN for the brush kit?", "part_number"),
    ],
)
def test_question_kind(question, kind):
    assert question_kind(question) == kind


@pytest.mark.parametrize(
    ("draft", "why"),
    [
        ("The answer is: 2. The reason for the answer is: 2. The answer is: 2. " * 2, "repeats"),
        ("You can check the oil level on the RSC-B-L-B-B-B-B-B-B-B", "repeats"),
        ("The answer is: <context> 2-41. ENGINE ASSEMBLY", "echoes"),
        ("Question: what torque? Answer: 95 N·m", "echoes"),
        ("Photosynthesis turns light into sugar in green plants.", "does not address"),
    ],
)
def test_degenerate_drafts_are_caught(draft, why):
    assert why in (degenerate(draft, "What torque does the impeller nut of the P-200 get?") or "")


def test_a_plain_draft_passes():
    q = "What torque does the impeller nut of the P-200 get?"
    assert degenerate("Tighten the impeller nut to 95 N·m [1].", q) is None


class _Tokenizer:
    """A REAL-rule stand-in (named as such): a five-token vocabulary, to test which tokens the
    constraint bans without loading a model (the model test is in test_generate.py)."""

    def __init__(self):
        self.vocab = ["The", " nut", " 9", "5", " 15", "0"]

    def __len__(self):
        return len(self.vocab)

    def convert_ids_to_tokens(self, ids):
        return [self.vocab[i] for i in ids]

    def convert_tokens_to_string(self, tokens):
        return "".join(tokens)


def test_the_number_constraint_bans_what_the_lines_do_not_hold():
    c = NumberConstraint(_Tokenizer(), ["Tighten to 95 N·m."], prompt_len=0)
    assert allowed_words(["Tighten to 95 N·m."]) == {"9", "95"}
    assert set(c.banned("The nut")) == {3, 4, 5}  # ' 9' may start 95; '5', ' 15', '0' may not
    assert set(c.banned("The nut 9")) == {4, 5}  # "5" continues to 95; " 9" starts anew


def _unit(text: str, kind: str, ordinal: int, chunk: str = "c1", **features) -> AnswerUnit:
    hit = Hit(chunk, "d", "Manual", "m.pdf", "4 Torques", 7, 7, text, 10, 1.0, "vector")
    u = AnswerUnit(text, kind, hit, ordinal, features.get("similarity", 0.5))
    u.features = {f: 0.0 for f in FEATURES} | features
    u.own_subject = 1.0  # the line itself names what is asked
    return u


HOLDS = {"asked_unit": 1.0, "subject": 1.0}  # holds a value of the asked kind, on subject


def test_selection_adds_a_line_only_for_what_the_first_lacks():
    q = Question.of("What torque do the cover screws and the drain plug get?")
    units = [
        _unit("Tighten the cover screws to 16 lb-ft.", "sentence", 1, similarity=0.9, **HOLDS),
        _unit("Tighten the cover screws to 16 lb-ft again.", "sentence", 2, similarity=0.85),
        _unit("Tighten the drain plug to 13-18 lb-ft.", "sentence", 5, similarity=0.8, **HOLDS),
    ]
    selector = LinearSelector({"similarity": 10.0}, gap=2.0)
    picked = select(q, units, selector)
    assert [u.ordinal for u in picked] == [1, 5]  # the repeat adds no word the first lacks


def test_value_question_with_no_such_value_selects_nothing():
    q = Question.of("What torque do the six mounting nuts get?")
    units = [_unit("Install the six mounting nuts by hand.", "sentence", 1, subject=1.0)]
    assert select(q, units, LinearSelector({"similarity": 1.0})) == []


def test_composition_quotes_prose_with_neighbours_and_rows_alone():
    rows = [
        _unit("Load | Fuel\n75 % | 72.8 L/h", "row", 1, chunk="t"),
        _unit("Load | Fuel\n100 % | 96.5 L/h", "row", 2, chunk="t"),
    ]
    prose = [
        _unit("Remove the cover.", "sentence", 1),
        _unit("Tighten the screws to 16 lb-ft.", "sentence", 2),
        _unit("Fill the housing.", "sentence", 3),
        _unit("Check for leaks.", "sentence", 4),
    ]
    shown = shown_units([rows[0]], rows)
    text, lines = compose("spec", shown, {"t": 1})
    assert text == '"Load: 75 %; Fuel: 72.8 L/h" [1] (p. 7)'
    assert lines == ["Load: 75 %; Fuel: 72.8 L/h"]
    shown = shown_units([prose[1]], prose)
    text, _ = compose("spec", shown, {"c1": 2})
    quote = "Remove the cover. Tighten the screws to 16 lb-ft. Fill the housing."
    assert text == f'"{quote}" [2] (p. 7)'


def test_fit_learns_which_feature_answers():
    import numpy as np

    rng = np.random.default_rng(0)
    x = rng.random((400, 2))
    y = (x[:, 0] > 0.7).astype(float)  # the first feature decides, the second is noise
    w, _ = fit(x, y)
    assert w[0] > 5 * abs(w[1])


@pytest.mark.parametrize(
    ("line", "states"),
    [
        ("Measure outside diameter of rotor shaft at drive end bearing seat (7).", False),
        ("See table 2-7 and figure 3-1.", False),
        ("7 | Outside diameter of rotor shaft | 0.7874 to 0.7877 | None", True),
        ("Resistance must be between 8.8 and 10.2 at 77°F.", True),
        ("Tighten the bleed screw to 10 N·m.", True),
    ],
)
def test_a_value_line_is_told_from_an_instruction_with_a_callout(line, states):
    """A value question prefers the row that states the limit over the step that says to
    measure it: item callouts and figure or table references are no values."""
    assert states_value(line) is states


def _hit(chunk: str, section: str, text: str = "") -> Hit:
    return Hit(chunk, "d", "Manual", "m.pdf", section, 7, 7, text, 10, 1.0, "vector")


def _featurised(question: str, units: list[AnswerUnit]) -> Question:
    q = Question.of(question)
    hits = list({u.chunk_id: u.hit for u in units}.values())
    featurise(q, units, Retrieval(question, hits, [], {}, hits))
    return q


def _sentences(*rows: tuple[str, Hit, int, float]) -> list[AnswerUnit]:
    return [AnswerUnit(text, "sentence", hit, n, sim) for text, hit, n, sim in rows]


def test_a_sentence_holds_the_value_of_the_sentence_after_it():
    """'Check sliprings resistance.' is answered by the next sentence, shown with it."""
    hit = _hit("c1", "2-21. ROTOR > e. Inspection")
    units = _sentences(
        ("Check sliprings resistance using multimeter.", hit, 1, 0.7),
        ("Resistance must be between 1.8 and 2.0 ohms.", hit, 2, 0.4),
        ("Install the rotor.", hit, 4, 0.3),
    )
    _featurised("What slipring resistance is good?", units)
    assert [u.features["asked_unit"] for u in units] == [1.0, 1.0, 0.0]


def test_a_section_about_another_model_is_marked_and_an_absent_model_refused():
    ours = _hit("c1", "Section III. GENERATOR KX-2184AC > 2-21. ROTOR")
    other = _hit("c2", "Section II. GENERATOR KX-3002AD > 2-9. ROTOR")
    general = _hit("c3", "Table 1-1. Standard Torque Specifications")
    units = _sentences(
        ("Slipring resistance must be 1.8 to 2.0 ohms.", ours, 1, 0.5),
        ("Slipring resistance must be 7.0 to 7.8 ohms.", other, 1, 0.6),
        ("Resistance of any rotor must be measured.", general, 1, 0.4),
    )
    _featurised("KX-2184AC slipring resistance?", units)
    assert [u.features["model_other"] for u in units] == [0.0, 1.0, 0.0]
    selector = LinearSelector({"similarity": 1.0, "model_other": -0.2})
    assert "1.8" in select(Question.of("KX-2184AC slipring resistance?"), units, selector)[0].text
    # A model none of the candidates names: whatever they say is about other equipment.
    q = _featurised("KX-5504AB slipring resistance?", units)
    assert select(q, units, selector) == []


def test_a_procedure_is_quoted_across_its_sections_chunks_in_order():
    intro = _hit("d:0051", "7.5 Bleeding", "Bleed the fuel system after a filter change.")
    steps = _hit("d:0052", "7.5 Bleeding", "1. Loosen the bleed screw.\n2. Tighten it to 10 N·m.")
    elsewhere = _hit("d:0049", "7.4 Filters", "Replace the filters.")
    units = [
        AnswerUnit("Loosen the bleed screw.", "sentence", steps, 1, 0.8),
        AnswerUnit("Bleed the fuel system after a filter change.", "sentence", intro, 1, 0.7),
        AnswerUnit("Replace the filters.", "sentence", elsewhere, 1, 0.6),
    ]
    chunks = procedure_chunks(units[0], units)
    assert [h.chunk_id for h in chunks] == ["d:0051", "d:0052"]
    text, lines = compose("procedure", units[:1], {"d:0052": 1, "d:0051": 2}, chunks)
    assert lines == [
        "Bleed the fuel system after a filter change.",
        "1. Loosen the bleed screw.",
        "2. Tighten it to 10 N·m.",
    ]
    assert text.startswith("From 7.5 Bleeding [2][1] (p. 7):")


def test_a_value_line_about_another_part_does_not_answer():
    """Every line of the engine data table is in the engine's section; the radiator cap's
    opening pressure is still no answer to the injectors' (the line names no injector), while
    the same table answers for the cap."""
    table = _hit("c1", "3 TECHNICAL SPECIFICATIONS > 3.2 Engine > Table 3-2 Engine data")
    prose = _hit("c2", "2 DESCRIPTION > 2.2 Engine")
    cap = "Parameter | Value\nRadiator pressure cap opening pressure | 0.9 bar"
    units = [
        AnswerUnit(cap, "row", table, 1, 0.7),
        AnswerUnit("Parameter | Value\nOil pressure at idle | 150 kPa", "row", table, 2, 0.6),
        AnswerUnit("The engine has direct injection by six injectors.", "sentence", prose, 1, 0.6),
    ]
    selector = LinearSelector({"similarity": 1.0})
    rarity = {"injector": 4.0, "open": 1.5, "engin": 0.2, "radiat": 3.0, "cap": 3.0}
    for question, answered in [
        ("What is the injector opening pressure of the engine?", False),
        ("What is the radiator cap opening pressure of the engine?", True),
    ]:
        q = Question.of(question)
        hits = [table, prose]
        featurise(q, units, Retrieval(question, hits, [], {}, hits), rarity)
        picked = select(q, units, selector)
        assert bool(picked) is answered, (question, [u.own_subject for u in units])
        if answered:
            assert "0.9 bar" in picked[0].text


@pytest.mark.parametrize(
    ("row", "pointer"),
    [
        ("Safety, care and handling | 1-5\nSecuring shelter on 1-1/4 ton truck | 3- 4", True),
        ("Fan, End Bell, and Rotor Assembly | 2-21 | 2-187\nRemoval | 2-21b | 2-188", True),
        ("Troubleshooting | 3-7, 4-2\nTrough | 3-25", True),
        ("Fastener | Size | N·m | lbf·ft\nHousing foot bolts | M24 | 710 | 524", False),
        ("Mounting position | Oil quantity (L)\nM1 | 14.5", False),
        ("Screw size | Torque\n1/4-20 | 50 inch lb", False),
    ],
)
def test_index_rows_are_pointers_not_answers(row, pointer):
    assert is_pointer_row(row) is pointer


@pytest.mark.parametrize(
    ("text", "found"),
    [
        ("at 75 % load", ["75"]),
        ("Max torque on a 1/4-20 screw going into a rivnut?", ["1/4"]),  # the thread's size
        (" | 1/4 -20 | 50 inch lb", ["1/4", "50"]),
        ("the DG-450 and a 60-amp generator", []),  # codes, not values
    ],
)
def test_bare_numbers_of_a_question_single_out_a_row(text, found):
    assert numbers(text) == found
