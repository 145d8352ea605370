"""The format rules of the extractor on small hand-made pages (no real manual needed): RPSTL
rows, old and new stock numbers, values as printed, whole safety statements, steps that OCR
or page layout break up, PMCS intervals, title-page equipment."""

from __future__ import annotations

from ingestion.chunker import chunk_blocks, to_blocks
from ingestion.extract import extract, read
from maint.domain import Element, ParsedDocument, TitleEquipment
from maint.identifiers import identifier_keys, norm_nsn
from maint.units import find_printed_values


def _doc(*elements: Element, **front) -> ParsedDocument:
    return ParsedDocument(
        path="x.pdf", format="pdf", title="T", pages=3, elements=list(elements), **front
    )


def _read(doc: ParsedDocument):
    return read(chunk_blocks("d", to_blocks(doc), lambda t: len(t.split())))


def _p(text: str, page: int = 1, **kw) -> Element:
    return Element(kind="paragraph", text=text, page=page, **kw)


def _step(n: int, text: str, page: int = 1) -> Element:
    return Element(kind="list_item", number=n, text=text, page=page)


RPSTL = [
    [
        *("(a) Fig. No.", "(b) Item No.", "(2) SMR code", "(3) Federal stock number"),
        *("(4) Part number", "(5) FSCM", "(6) Description", "Usable on code", "(8) QTY"),
    ],
    ["", "", "", "", "", "", "GROUP 06 ELECTRICAL SYSTEM", "", ""],
    ["3", "11", "PAFZZ", "5977-928-6147", "11646900", "19207", "BRUSH,ELECTRICAL:", "C", "2"],
    ["5", "8", "PAFZZ", "5977-928-6147", "11646900", "19207", "BRUSH,ELECTRICAL", "G", "2"],
    ["5", "", "PAFZZ", "2920-472-1723", "57003776", "19207", "PARTS KIT: COMPOSED OF:", "G", "1"],
    ["5", "8", "", "", "", "", "BRUSH", "", "2"],
    ["", "", "PEFFF", "5120-076-3286", "60266", "35510", "REPLACER,OIL SEAL:", "", ""],
    ["", "", "", "", "", "", "", "A,B", "1 TM 9-2920-225-34P"],
]


def test_rpstl_rows_become_parts_one_node_per_part_number():
    doc = _doc(Element(kind="table", rows=RPSTL, page=11))
    rows = _read(doc).parts
    assert [(r.figure, r.item, r.part_number) for r in rows] == [
        ("3", "11", "11646900"),
        ("5", "8", "11646900"),
        ("5", "", "57003776"),  # the kit; its breakdown rows name no part number
        ("", "", "60266"),
    ]
    kit, replacer = rows[2], rows[3]
    assert kit.description == "PARTS KIT:" and (replacer.usable_on, replacer.qty) == ("A,B", "1")
    facts = extract("d", "T", chunk_blocks("d", to_blocks(doc), lambda t: len(t.split())), doc)
    parts = [n for n in facts.nodes if n.label == "Part"]
    brush = next(n for n in parts if n.key == "11646900")
    assert len(parts) == 3 and brush.props["nsn"] == "5977-00-928-6147"
    assert brush.props["usage"] == ["fig 3 item 11", "fig 5 item 8"]
    assert brush.props["smr"] == "PAFZZ" and brush.props["mfr_code"] == "19207"


def test_an_rpstl_page_without_figure_column_takes_the_caption():
    rows = [
        [
            *("(1) ITEM NO.", "(2) SMR CODE", "(3) NSN", "(4) CAGEC", "(5) PART NUMBER"),
            *("(6) DESCRIPTION AND USABLE ON CODE (UOC)", "(7) QTY"),
        ],
        ["1", "PAOZZ", "", "51489", "700407", ". RING, SS", "4"],
    ]
    doc = _doc(
        Element(kind="heading", text="WP 0025 00 PARTS LIST", level=2, page=1),
        _p("Figure 1. Group 00 CBC"),
        Element(kind="table", rows=rows, page=2),
    )
    (row,) = _read(doc).parts
    assert (row.figure, row.item, row.smr, row.description) == ("1", "1", "PAOZZ", ". RING, SS")


def test_old_fsns_and_new_nsns_are_one_stock_number():
    assert norm_nsn("2920-078-2351") == "2920-00-078-2351"
    assert norm_nsn("5306012345678") == norm_nsn("5306-01-234-5678") == "5306-01-234-5678"
    assert "2920000782351" in identifier_keys("FSN 2920-078-2351")
    assert "2920000782351" in identifier_keys("NSN 2920-00-078-2351")


def test_values_as_army_manuals_print_them():
    printed = {
        "Tighten to 110 lb-ft (149 N•m).": ("110 lb-ft (149 N•m)", 2),
        "Torque to 44-52 lb-ft.": ("44-52 lb-ft", 1),
        "Tighten to 15 to 20 pound-inches.": ("15 to 20 pound-inches", 1),
        "Clearance 0.001-0.003 in. (0.026-0.076 mm).": ("0.001-0.003 in. (0.026-0.076 mm)", 2),
        "must read about 28 volts": ("28 volts", 1),
        "reads 65 amperes": ("65 amperes", 1),
        "load springs with 8.6 ounces": ("8.6 ounces", 1),
        "Spring length must be 7/8 inch.": ("7/8 inch", 1),
        "one 1 1/2-volt dry cell": ("1 1/2-volt", 1),
    }
    for text, (value, quantities) in printed.items():
        (found,) = find_printed_values(text)
        assert (found.text, len(found.quantities)) == (value, quantities), text
    assert find_printed_values("7/8 inch")[0].quantities[0].value_si == 22.225
    for designation in ("1-1/4-Ton truck", "a 2-1/2 Ton cargo truck", "81-mm mortar", "25A switch"):
        assert not find_printed_values(designation), designation


def test_a_warning_keeps_its_whole_text_and_a_bare_note_its_bullets():
    doc = _doc(
        _p("WARNING: Dry cleaning solvent is flammable. Do not use near an open flame."),
        _p("Eye shields must be worn when using compressed air."),
        _p("NOTE", page=2),
        Element(kind="list_item", text="Remove all protective caps.", page=2),
        Element(kind="list_item", text="Tape both ends of the hose.", page=2),
        _step(1, "Connect hose to tube.", page=2),
        _step(2, "Route hose over crossmember.", page=2),
        _p("NOTE: There is an override for emergencies.", page=3),
        _p("The lower door swings sideways and is locked in place from inside.", page=3),
    )
    notices = [(n.level, n.text) for n in _read(doc).notices]
    assert notices == [
        (
            "WARNING",
            "Dry cleaning solvent is flammable. Do not use near an open flame. "
            "Eye shields must be worn when using compressed air.",
        ),
        ("NOTE", "• Remove all protective caps. • Tape both ends of the hose."),
        ("NOTE", "There is an override for emergencies."),
    ]


def test_steps_survive_ocr_labels_running_heads_figures_and_sub_steps():
    doc = _doc(
        Element(kind="heading", text="3-5. Service Upon Receipt", level=3, page=1),
        Element(kind="heading", text="c. Securing Shelter on Truck", level=4, page=1),
        _p("10 Check rectifier using multimeter as follows."),  # OCR of '1. Check …'
        _p("NOTE: Low readings are 20 to 30 ohms."),
        _step(2, "Touch negative test probe to output terminal."),
        _p("Figure 3-2. Securing Shelter on Truck."),
        _step(3, "Tighten all turnbuckles evenly by hand."),
        _p("CAUTION: Do not overtighten turnbuckles. Overtightening may tear the eyes."),
        Element(kind="heading", text="3-5. Service Upon Receipt (cont)", level=3, page=2),
        _p("4, Insert wooden blocks between shelter skids and truck bed.", page=2),
        _p("(a) Mixing by weight -- Mix 15 ounces of resin.", page=2),
        _step(5, "Raise and secure truck tailgate.", page=2),
    )
    (proc,) = _read(doc).procedures
    assert len(proc.steps) == 5 and proc.steps[0].startswith("Check rectifier")
    assert proc.step_pages == [1, 1, 1, 2, 2]
    assert "Mix 15 ounces" in proc.steps[3]
    assert [n.level for _, n in proc.notices] == ["NOTE", "CAUTION"]
    assert proc.title == "Service Upon Receipt. Securing Shelter on Truck"


def test_lettered_steps_are_steps_unless_they_subdivide_a_numbered_paragraph():
    steps = [_p("a. Using a wrench, remove two screws."), _p("b. Remove the U-bolt.")]
    under_task = _doc(Element(kind="heading", text="LIFTING RING REPAIR", level=4), *steps)
    under_paragraph = _doc(Element(kind="heading", text="16. IDENTIFICATION", level=3), *steps)
    assert [len(p.steps) for p in _read(under_task).procedures] == [2]
    assert _read(under_paragraph).procedures == []


def test_pmcs_legend_and_written_intervals():
    doc = _doc(
        Element(kind="heading", text="d. Weekly", level=4),
        _p("Perform your weekly (W) PMCS."),
        _p("Lubricate components using grease. Recommended lubrication is every 3 months."),
        _p("However, shelters near salt air shall be inspected at least once every week."),
    )
    got = [(i.task, i.interval) for i in _read(doc).intervals]
    assert got == [
        ("Perform your weekly (W) PMCS", "Weekly"),
        ("Lubricate components using grease", "every 3 months"),
        ("inspect shelters near salt air", "at least once every week"),
    ]


def test_title_page_equipment_becomes_equipment_nodes():
    doc = _doc(
        _p("text"),
        publication="TM 9-2920-225-34P",
        equipment=[
            TitleEquipment(
                name="PRESTOLITE MODEL AMA-5102UT", model="AMA-5102UT", nsn="2920-909-2483"
            ),
            TitleEquipment(name="LEECE-NEVILLE MODEL 3002AC", model="3002AC", nsn="2920-909-2483"),
        ],
    )
    facts = extract("d", "T", chunk_blocks("d", to_blocks(doc), lambda t: len(t.split())), doc)
    equipment = {n.key: n.props for n in facts.nodes if n.label == "Equipment"}
    assert set(equipment) == {"AMA5102UT", "3002AC"}
    assert equipment["AMA5102UT"]["nsn"] == "2920-00-909-2483"
    assert equipment["3002AC"]["publication"] == "TM 9-2920-225-34P"


def test_an_end_item_table_names_the_models_of_a_cover():
    """An MWO cover prints only 'M1113 AND M1114'; its end-item table gives NSN and name,
    the name wrapped over rows of its own."""
    rows = [
        ["NOMENCLATURE", "NSN", "PART NO.", "CAGEC", "MODEL"],
        ["Truck, Utility, Expanded", "", "", "", ""],
        ["Capacity, 4x4", "", "", "", ""],
        ["Shelter Carrier", "2320-01-412-0143", "87T0014", "19207", "M1113"],
        ["Up-Armored Carrier", "2320-01-413-3739", "87T0015", "19207", "M1114"],
    ]
    doc = _doc(
        Element(kind="table", rows=rows, page=2),
        equipment=[TitleEquipment(name="M1113 AND M1114", model=m) for m in ("M1113", "M1114")],
    )
    facts = extract("d", "T", chunk_blocks("d", to_blocks(doc), lambda t: len(t.split())), doc)
    equipment = {n.key: n.props for n in facts.nodes if n.label == "Equipment"}
    assert equipment["M1114"]["nsn"] == "2320-01-413-3739"
    assert equipment["M1113"]["description"] == (
        "Truck, Utility, Expanded Capacity, 4x4, Shelter Carrier"
    )


def test_short_steps_without_full_stops_are_still_steps_a_list_of_names_is_not():
    steps = _doc(
        *(_step(n, t) for n, t in enumerate(["Remove cover", "Disconnect hose", "Remove pump"], 1))
    )
    names = _doc(
        *(
            _step(n, t)
            for n, t in enumerate(["MWO number", "Serial Number", "Date of Application"], 1)
        )
    )
    assert [len(p.steps) for p in _read(steps).procedures] == [3]
    assert _read(names).procedures == []
