"""Facts read from each sample manual written for maint, checked against the lists its author
wrote by hand. The two real manuals among the samples are checked against their hand-checked
lists in tests/unit/test_real_extraction.py."""

from collections import Counter

import pytest

from ingestion.chunker import chunk_blocks, to_blocks
from ingestion.extract import extract
from ingestion.parsers import parse_file
from maint.identifiers import cued_part_numbers, norm_part_number
from maint.units import find_quantities, normalise, number
from tests.helpers import SAMPLES, authored_samples, expected, real_samples

MANUALS = authored_samples()


def test_every_sample_has_one_list_of_expected_facts():
    every = sorted(p.name for p in SAMPLES.iterdir())
    real = [f"{name}.pdf" for name in real_samples()]
    assert sorted(MANUALS + real) == every
    assert real == ["MWO-9-2320-387-20-1.pdf", "TM-9-2920-225-34P.pdf"]


@pytest.fixture(scope="module")
def facts_by_doc(embedder):
    out = {}
    for name in MANUALS:
        path = SAMPLES / name
        parsed = parse_file(path, path.read_bytes())
        chunks = chunk_blocks("doc", to_blocks(parsed), embedder.count_tokens)
        nodes: dict[str, list] = {}
        facts = extract("doc", parsed.title, chunks)
        for n in facts.nodes:
            nodes.setdefault(n.label, []).append(n)
        out[name] = (nodes, facts, chunks)
    return out


@pytest.mark.parametrize("name", MANUALS)
def test_equipment_and_part_numbers(facts_by_doc, name):
    nodes, _, _ = facts_by_doc[name]
    exp = expected(name)
    assert [n.props["name"] for n in nodes["Equipment"]] == exp["equipment"]
    assert {n.props["part_number"] for n in nodes["Part"]} == set(exp["part_numbers"])
    nsns = {n.props.get("nsn") for n in nodes["Part"]}
    assert set(exp["nsns"]) <= nsns


@pytest.mark.parametrize("name", MANUALS)
def test_specs(facts_by_doc, name):
    nodes, _, _ = facts_by_doc[name]
    got = {(number(n.props["value"]), n.props["unit"]) for n in nodes["Spec"]}
    missing = [s for s in expected(name)["specs"] if (number(s["value"]), s["unit"]) not in got]
    assert missing == []
    for n in nodes["Spec"]:  # every spec carries its SI value alongside the original
        assert n.props["unit_si"] and n.props["value_si"] is not None


@pytest.mark.parametrize("name", MANUALS)
def test_procedures_warnings_intervals(facts_by_doc, name):
    nodes, _, _ = facts_by_doc[name]
    exp = expected(name)
    procedures = Counter((n.props["title"], n.props["steps"]) for n in nodes["Procedure"])
    assert procedures == Counter((p["title"], p["steps"]) for p in exp["procedures"])
    steps = nodes.get("Step", [])
    assert len(steps) == sum(p["steps"] for p in exp["procedures"])
    levels = Counter(n.props["level"] for n in nodes["Warning"])
    assert levels == Counter(w["level"] for w in exp["warnings"])
    texts = [n.props["text"] for n in nodes["Warning"]]
    assert [w["starts"] for w in exp["warnings"] if not any(w["starts"] in t for t in texts)] == []
    intervals = {(n.props["task"], n.props["interval"]) for n in nodes.get("Interval", [])}
    assert intervals == {(i["task"], i["interval"]) for i in exp["intervals"]}


def test_every_fact_points_at_a_chunk(facts_by_doc):
    for nodes, _, chunks in facts_by_doc.values():
        ids = {c.id for c in chunks}
        for label_nodes in nodes.values():
            for n in label_nodes:
                assert n.chunk_ids and set(n.chunk_ids) <= ids, (n.label, n.key)


def test_procedure_graph_shape(facts_by_doc):
    nodes, facts, _ = facts_by_doc["p200-centrifugal-pump.pdf"]
    proc = next(n for n in nodes["Procedure"] if n.props["title"] == "Installing the impeller")
    rels = {(e.type, e.dst_label) for e in facts.edges if e.src_key == proc.key}
    assert {("HAS_STEP", "Step"), ("USES_PART", "Part")} <= rels
    used = {e.dst_key for e in facts.edges if e.src_key == proc.key and e.type == "USES_PART"}
    assert norm_part_number("WP-2207-A") in used
    step7 = next(n for n in nodes["Step"] if n.key == f"{proc.key}/07")
    assert "95 N·m" in step7.props["text"]
    torque = [n for n in nodes["Spec"] if n.props["value"] == "95" and n.props["unit"] == "N·m"]
    assert torque and any("impeller nut" in n.props["parameter"].lower() for n in torque)


def test_superseded_part(facts_by_doc):
    _, facts, _ = facts_by_doc["sb-2024-07-p200-impeller.txt"]
    assert any(
        e.type == "SUPERSEDED_BY" and e.src_key == "WP2207A" and e.dst_key == "WP2207B"
        for e in facts.edges
    )


def test_decoys_are_not_parts(facts_by_doc):
    nodes, _, _ = facts_by_doc["rsc-75-air-compressor.html"]
    parts = {n.props["part_number"] for n in nodes["Part"]}
    assert not parts & {"AAS-TRK-0001", "RSC-XX-9999", "RSC-75", "AAS-SM-0750-EN"}


def test_part_number_normalisation_and_cues():
    assert (
        norm_part_number("WP-1143 B")
        == norm_part_number("WP1143B")
        == norm_part_number("wp-1143-b")
    )
    assert cued_part_numbers("Order kit P/N SBK-2407-P200 for each pump.") == ["SBK-2407-P200"]
    assert cued_part_numbers("use part number GS 7721.04, then") == ["GS 7721.04"]
    assert cued_part_numbers("The kit contains the parts") == []


def test_units_normalise_to_si():
    q = {x.unit: x for _, x in find_quantities("95 N·m (70 lbf·ft), 0.016 in., 232 psi, 248 °F")}
    assert q["lbf·ft"].unit_si == "N·m" and abs(q["lbf·ft"].value_si - 94.9) < 0.1
    assert abs(q["in."].value_si - 0.4064) < 1e-3
    assert q["psi"].unit_si == "kPa" and abs(q["psi"].value_si - 1599.6) < 0.5
    assert q["°F"].value_si == 120.0
    assert normalise("3.5–5.0", "bar").value_si == 350.0
    assert find_quantities("RSC-SEP-075A") == []  # a part number is no 75 A
    assert find_quantities("Route 12469512 L.H. hose") == []  # left hand, not litres
    assert [q.unit_si for _, q in find_quantities("Fill 5 L. Then")] == ["L"]
    assert [q.unit_si for _, q in find_quantities("300 N or 67 lbf")] == ["N", "N"]
