"""Which lines the evidence-first answer quotes, end to end on real stores, the real embedder
and the real selector: the section about the asked model, a procedure's steps across chunks,
and refusal of a near miss."""

from __future__ import annotations

import pytest

from retrieval.graph_facts import GraphRetriever
from serving.answering.answer import Answerer, GeneratorPool
from serving.answering.prompt import REFUSAL

# Two generators in one manual, the same check with different limits: the commonest confusion
# on real manuals (the 3002AD's slipring resistance given for the 2184AC).
TWO_MODELS = """# Generator Overhaul Manual

## Section II. GENERATOR MODEL KX-3002AD

### 2-9. ROTOR ASSEMBLY

#### e. Inspection and Repair

1. Check that rotor shaft has no burred threads.
2. Using multimeter, touch ohmmeter test probes to two sliprings at same time and check
that resistance is between 7.0 and 7.8 ohms. If resistance is not within limits, the
generator is nonrepairable.
3. Measure outside diameter of sliprings. Sliprings worn below 1.267 inches are scrapped.

## Section III. GENERATOR MODEL KX-2184AC

### 2-21. ROTOR ASSEMBLY

#### e. Inspection and Repair

1. Check sliprings resistance using multimeter by touching test probes to each slipring.
Resistance must be between 1.8 and 2.0 ohms.
2. Check that rotor has no grounds. Ohmmeter reading must be more than 10,000 ohms.
"""


@pytest.fixture(scope="module")
def pool(corpus) -> GeneratorPool:
    return GeneratorPool(corpus.settings)


@pytest.fixture(scope="module")
def answerer(corpus, pool) -> Answerer:
    return Answerer(
        corpus.settings, corpus.pg, corpus.embedder, GraphRetriever(corpus.graph, corpus.pg), pool
    )


def _answerer(ws, pool) -> Answerer:
    return Answerer(ws.settings, ws.pg, ws.embedder, GraphRetriever(ws.graph, ws.pg), pool)


def test_the_section_about_the_asked_model_wins(scratch, tmp_path, pool):
    manual = tmp_path / "generators.md"
    manual.write_text(TWO_MODELS)
    scratch.ingest(manual)
    a = _answerer(scratch, pool).ask(
        "What slipring resistance should a KX-2184AC rotor show?", mode="hybrid"
    )
    assert "1.8 and 2.0 ohms" in a.answer and "7.0 and 7.8" not in a.answer, a.answer
    assert all("2184AC" in e.section for e in a.evidence)


def test_a_procedure_is_quoted_with_its_steps_across_chunks(answerer):
    """The DG-450 manual's bleeding section is chunked into an introduction and its steps;
    the answer quotes both, in the manual's order, torques included."""
    a = answerer.ask("Walk me through bleeding the air out of the DG-450 fuel system.")
    assert not a.refused, a.answer
    lines = a.answer.splitlines()
    first_torque = next(i for i, line in enumerate(lines) if "10 N·m" in line)
    second_torque = next(i for i, line in enumerate(lines) if "30 N·m" in line)
    assert 0 < first_torque < second_torque, a.answer
    assert a.answer.count("[") >= 2 and a.verified


def test_a_model_the_manual_does_not_cover_is_refused(scratch, tmp_path, pool):
    """Near miss by equipment: the same check exists for two other models; asked for a third
    the manual never names, refuse rather than quote another model's limits."""
    manual = tmp_path / "generators.md"
    manual.write_text(TWO_MODELS)
    scratch.ingest(manual)
    a = _answerer(scratch, pool).ask(
        "What slipring resistance should a KX-5504AB rotor show?", mode="hybrid"
    )
    assert a.refused and a.answer.startswith(REFUSAL), a.answer
    assert "ohms" not in a.answer


ENGINE_DATA = """# Engine Manual

## 3 TECHNICAL SPECIFICATIONS

### Table 3-2 Engine data

| Parameter | Value |
|---|---|
| Radiator pressure cap opening pressure | 0.9 bar |
| Lubricating oil pressure at idle | 150 kPa |
| Maximum exhaust back pressure | 10 kPa |

## 6 OPERATION

### 6.1 Starting

Open the fuel shut-off valve and the cooling water valve before starting the engine.

## 7 MAINTENANCE

### 7.2 Changing the engine oil

Open the oil drain valve and drain the oil while the engine is warm. Close the valve.

### 7.3 Draining the cooling system

Open the drain cock at the bottom of the radiator. The thermostat opens at 82 °C.

### 7.5 Bleeding the fuel system

If the engine does not start, loosen the injection line nuts at the injectors of cylinders
1, 2 and 3 by one turn, crank the engine until air-free fuel flows, then tighten the nuts.
"""


def test_a_value_of_another_part_in_the_same_table_is_refused(scratch, tmp_path, pool):
    """Near miss by part: the engine data give the radiator cap's opening pressure and the
    fuel section names the injectors, but no injector opening pressure stands anywhere. The
    question's words are weighed by their rarity in the manual: 'open' is in most sections,
    'injector' in one, so a line without it is about something else."""
    manual = tmp_path / "engine.md"
    manual.write_text(ENGINE_DATA)
    scratch.ingest(manual)
    answerer = _answerer(scratch, pool)
    a = answerer.ask("What is the injector opening pressure of the engine?", mode="hybrid")
    assert a.refused and a.answer.startswith(REFUSAL), a.answer
    assert "0.9 bar" not in a.answer
    a = answerer.ask("What opening pressure does the radiator pressure cap have?", mode="hybrid")
    assert "0.9 bar" in a.answer and a.verified, a.answer
