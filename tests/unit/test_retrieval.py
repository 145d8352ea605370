"""Retrieval logic that needs no store: reading identifiers out of a question, fusion by
rank, the context budget."""

from __future__ import annotations

import pytest

from retrieval.base import Fact, Hit
from retrieval.fusion import rrf
from retrieval.hybrid import budget
from retrieval.query import asked_units, identifier_candidates


@pytest.mark.parametrize(
    ("question", "ids"),
    [
        ("Is WP-1143 B in stock?", {"WP1143B"}),
        ("what replaces wp 2207 a", {"WP2207A"}),
        ("order FS 1280.2 and 3-8821-04", {"FS12802", "3882104"}),
        ("torque of 95 to 100 N·m on the P-200", {"P200"}),
    ],
)
def test_identifier_candidates(question, ids):
    found = set(identifier_candidates(question))
    assert ids <= found
    assert not {"OF95", "TO100", "100N", "THEP200"} & found


def _hit(chunk: str, score: float = 0.0, facts=()) -> Hit:
    return Hit(chunk, "d", "Doc", "doc.pdf", "s", 1, 1, "text", 10, score, "x", list(facts))


def test_rrf_fuses_by_rank_and_deduplicates():
    fact = Fact("spec", "x", "x: 1 mm", "b")
    fused = rrf(
        {"vector": [_hit("a", 0.9), _hit("b", 0.8)], "graph": [_hit("b", 5.0, [fact])]},
        {"vector": 1.0, "graph": 1.0},
        k=60,
    )
    assert [h.chunk_id for h in fused] == ["b", "a"]
    assert fused[0].ranks == {"vector": 2, "graph": 1}
    assert fused[0].facts == [fact]
    assert fused[0].score == pytest.approx(1 / 62 + 1 / 61)
    # weights matter: vector alone outranks when graph weighs nothing
    fused = rrf({"vector": [_hit("a"), _hit("b")], "graph": [_hit("b")]}, {"graph": 0.0})
    assert fused[0].chunk_id == "a"


def test_budget_caps_chunks_and_tokens():
    hits = [_hit(str(i)) for i in range(10)]
    for h in hits:
        h.tokens = 300
    assert len(budget(hits, max_chunks=5, max_tokens=1000)) == 3
    assert len(budget(hits, max_chunks=2, max_tokens=10_000)) == 2
    assert len(budget(hits[:1], 5, 10)) == 1  # the best chunk always


@pytest.mark.parametrize(
    ("question", "units"),
    [
        ("What torque for the drain plug?", {"N·m"}),
        ("How much grease goes in the motor bearings?", {"kg", "L"}),  # an amount
        ("How much clearance at the coupling?", {"mm"}),  # the measure named wins
        ("What belt tension do I set?", {"kg", "mm", "N"}),  # a pull or a deflection
        ("What's the shelf life of the epoxy?", {"h", "months", "years"}),
        ("What is the subtransient reactance of the alternator?", {"Ω"}),
        ("Maximum allowable force on the discharge nozzle?", {"N"}),
        ("Who makes the pump?", set()),
    ],
)
def test_asked_units(question, units):
    assert asked_units(question) == units
