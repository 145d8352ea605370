"""The helpers training answers are worded with."""

from __future__ import annotations

from finetune.templates import normalise, part_name, spec_values, verb_phrase


def test_values_keep_both_units_in_source_order():
    rows = [
        {"value": "70", "unit": "lbf·ft", "unit_si": "N·m", "text": "nut | 95 N·m | 70 lbf·ft"},
        {"value": "95", "unit": "N·m", "unit_si": "N·m", "text": "nut | 95 N·m | 70 lbf·ft"},
    ]
    assert spec_values(rows) == "95 N·m (70 lbf·ft)"


def test_phrasing_helpers():
    assert verb_phrase("Replacing the mechanical seal") == "replace the mechanical seal"
    assert verb_phrase("Draining and refilling the system") == "drain and refill the system"
    assert verb_phrase("Stopping the pump") == "stop the pump"
    assert verb_phrase("Pre-start checks") is None
    assert part_name("Element, air filter, primary") == "air filter element (primary)"
    assert normalise("  What's the TORQUE,  P-200?? ") == "what s the torque p 200"
