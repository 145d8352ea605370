"""PDF parsing on real manuals: ../shared/real-manuals (five US Army publications, 580 pages).

Three are OCR of scans (TM 9-2920-225-34 and its -34P parts list, TM 10-5411-205-13), two
born-digital (TM 10-5411-231-13&P, MWO 9-2320-387-20-1). The checks name pages printed in
those PDFs; the rule-level checks at the end need no files.
"""

from __future__ import annotations

import json
import re
from functools import cache

import pytest

from ingestion.chunker import chunk_blocks, to_blocks
from ingestion.parsers import parse_file
from ingestion.parsers.furniture import is_page_label, is_publication_number
from ingestion.parsers.sections import is_heading_text, numbered_heading
from maint.domain import Element, ParsedDocument
from tests.helpers import ROOT

REAL = ROOT.parent / "shared" / "real-manuals"
DOCS = REAL / "docs"
NAMES = (
    "TM-9-2920-225-34",
    "TM-9-2920-225-34P",
    "TM-10-5411-231-13-P",
    "TM-10-5411-205-13",
    "MWO-9-2320-387-20-1",
)
needs_real = pytest.mark.skipif(
    not DOCS.is_dir(),
    reason=f"the real-manual set is not here ({REAL}); it sits beside the clone as "
    "../shared/real-manuals",
)
SMR = re.compile(r"\b(?:P[A-G]|K[BDF]|X[A-D]|[MA][OFHLD])[COFHLDZB]{2}[ZOFHDLA]\b")  # PAOZZ
NSN = re.compile(r"\b\d{4}-\d{2}-\d{3}-\d{4}\b|\b\d{4}-\d{3}-\d{4}\b|\b\d{13}\b")


@cache
def doc(name: str) -> ParsedDocument:
    path = DOCS / f"{name}.pdf"
    return parse_file(path, path.read_bytes())


def on_page(d: ParsedDocument, page: int) -> list[Element]:
    return [e for e in d.elements if e.page == page]


def texts(elements: list[Element]) -> list[str]:
    """Every text an element carries: its text, or each table cell."""
    out = []
    for e in elements:
        out.extend(c for r in e.rows or [] for c in r) if e.kind == "table" else out.append(e.text)
    return out


def tables(d: ParsedDocument, page: int) -> list[list[list[str]]]:
    return [e.rows for e in on_page(d, page) if e.kind == "table"]


def headings(d: ParsedDocument) -> list[tuple[int, str]]:
    return [(e.level, e.text) for e in d.elements if e.kind == "heading"]


# -- 1. glyphs -------------------------------------------------------------------------------


@needs_real
@pytest.mark.parametrize("name", NAMES)
def test_no_cid_placeholder_reaches_an_element(name):
    d = doc(name)
    assert not [t for t in texts(d.elements) if "(cid:" in t or "\ufffd" in t or "\uffff" in t]


def _pdf(content: bytes | list[bytes], font: bytes, *more: bytes) -> bytes:
    """A PDF of one page per ``content`` stream, drawing with ``font`` as /F1 (no ToUnicode
    map) and ``more`` objects: the first of them is /Im1 (the font may refer to the others)."""
    pages = [content] if isinstance(content, bytes) else content
    first = 3 + 2 * len(pages)  # the font's object number; ``more`` follow it
    resources = b"<< /Font << /F1 %d 0 R >> /XObject << /Im1 %d 0 R >> >>" % (first, first + 1)
    kids = b" ".join(b"%d 0 R" % (3 + 2 * k) for k in range(len(pages)))
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [%s] /Count %d >>" % (kids, len(pages)),
    ]
    for k, page in enumerate(pages):
        objects.append(
            b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Resources %s "
            b"/Contents %d 0 R >>" % (resources, 4 + 2 * k)
        )
        objects.append(_stream(page))
    objects += [font, *more]
    out, offsets = b"%PDF-1.4\n", []
    for i, body in enumerate(objects, 1):
        offsets.append(len(out))
        out += b"%d 0 obj\n" % i + body + b"\nendobj\n"
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    out += b"".join(b"%010d 00000 n \n" % o for o in offsets)
    return out + b"trailer << /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (
        len(objects) + 1,
        xref,
    )


def _stream(data: bytes) -> bytes:
    return b"<< /Length %d >>\nstream\n" % len(data) + data + b"\nendstream"


def test_unmapped_glyph_in_newton_metre_is_the_dot(tmp_path):
    """Code 141 named by no Unicode glyph name: pdfminer prints (cid:141), we print N•m."""
    font = (
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica /Encoding << /Type /Encoding "
        b"/BaseEncoding /WinAnsiEncoding /Differences [141 /g141] >> >>"
    )
    path = tmp_path / "torque.pdf"
    path.write_bytes(_pdf(b"BT /F1 12 Tf 72 700 Td (Tighten to 110 N\x8dm torque) Tj ET", font))
    parsed = parse_file(path, path.read_bytes())
    assert parsed.elements[0].text == "Tighten to 110 N•m torque"


def test_unmapped_small_centred_glyph_is_a_bullet(tmp_path):
    """A Type 3 font whose code 141 draws a small square at mid-height and has no Unicode."""
    font = (
        b"<< /Type /Font /Subtype /Type3 /FontBBox [0 0 600 700] "
        b"/FontMatrix [0.001 0 0 0.001 0 0] /CharProcs << /a 6 0 R /g141 7 0 R >> "
        b"/Encoding << /Type /Encoding /Differences [65 /a 141 /g141] >> /FirstChar 65 "
        b"/LastChar 141 /Widths [600" + b" 0" * 75 + b" 400] >>"
    )
    letter = _stream(b"600 0 0 0 500 700 d1 50 0 500 700 re f")
    dot = _stream(b"400 0 100 250 300 450 d1 100 250 200 200 re f")
    path = tmp_path / "bullet.pdf"
    path.write_bytes(_pdf(b"BT /F1 12 Tf 72 700 Td (AA\x8dAA) Tj ET", font, letter, dot))
    assert parse_file(path, path.read_bytes()).elements[0].text == "AA•AA"


# -- 2. page furniture ------------------------------------------------------------------------


@needs_real
@pytest.mark.parametrize("name", NAMES)
def test_running_heads_and_end_markers_are_gone(name):
    d = doc(name)
    assert d.publication
    edges = []  # where running heads and feet sit: each page's first and last lines
    for page in range(2, d.pages + 1):
        lines = [e.text for e in on_page(d, page) if e.kind != "table"]
        edges += lines[:1] + lines[-1:]
    label = re.compile(r"[A-Z]?-?\d{1,3}-\d{1,3}|\d{4} \d{2}-\d+.*")  # "2-14", "0025 00-1"
    assert not [t for t in edges if t.strip(" *") == d.publication or label.fullmatch(t)]
    assert not [t for t in texts(d.elements) if re.fullmatch(r"END OF [A-Z ]+\.?", t)]


@needs_real
@pytest.mark.parametrize(
    ("name", "page", "furniture"),
    [
        # work-package page labels, the running head with the package number, the end marker
        ("TM-10-5411-231-13-P", 101, ["0025 00-3", "TM 10-5411-231-13&P", "0025 00"]),
        ("TM-10-5411-231-13-P", 102, ["0025 00-4", "END OF FIGURE"]),
        ("TM-10-5411-231-13-P", 65, ["0017 00-1/(2 blank)", "END OF TASK"]),
        # chapter-page labels and the publication number of a scanned manual
        ("TM-9-2920-225-34", 13, ["1-3", "TM 9-2920-225-34"]),
        ("TM-9-2920-225-34", 14, ["1-4"]),
        ("TM-10-5411-205-13", 111, ["Change 1 B-7/(B-8 blank)", "B-7/(B-8 blank)"]),
        ("TM-10-5411-205-13", 15, ["2-2", "TM 10-5411-205-13"]),
        ("MWO-9-2320-387-20-1", 5, ["5", "MWO 9-2320-387-20-1"]),
    ],
)
def test_page_labels_and_publication_numbers_are_gone(name, page, furniture):
    found = texts(on_page(doc(name), page))
    assert found, "the page has text"
    for line in furniture:
        assert not [t for t in found if t.strip() == line or t.endswith(f" {line}")], line


# -- 3. two-column pages ---------------------------------------------------------------------


@needs_real
def test_two_column_introduction_reads_column_by_column():
    """-34P PDF p. 3: `pdftotext -layout` interleaves the columns; we read down each."""
    d = doc("TM-9-2920-225-34P")
    page = on_page(d, 3)
    scope = (
        "This manual lists repair parts required for the performance of direct and general "
        "support maintenance (including depot maintenance Repair Parts and Special Tools) of "
        "the Generators, Engine Accessory, FSN 2920-909-2483"
    )
    assert any(e.text.startswith(scope) for e in page)
    # The left column runs to its end ("(1) Source Code", the PA-PD codes) before the right
    # column starts (PE, PF, ... and "(2) Maintenance Code").
    at = {t: i for i, e in enumerate(page) for t in texts([e])}
    source = next(i for t, i in at.items() if "Source codes are assigned" in t)
    pa = next(i for t, i in at.items() if t == "PA")
    pe = next(i for t, i in at.items() if t == "PE")
    maintenance = next(i for t, i in at.items() if "Maintenance codes are assigned" in t)
    assert source < pa < pe < maintenance


# -- 4. scanned pages and pages without text -------------------------------------------------


@needs_real
def test_pages_without_text_are_counted_blank_pages_are_not():
    # S-250: a scanned page and three scanned forms at the back, no text layer on them
    assert doc("TM-10-5411-205-13").pages_without_text == [3, 124, 125, 126]
    # CBC: 21 back-of-sheet pages print nothing at all; they are blank, not scans
    assert doc("TM-10-5411-231-13-P").pages_without_text == []


@needs_real
def test_ocr_text_is_used_as_it_is():
    d = doc("TM-9-2920-225-34")
    # the OCR slip "iS" and "0il" are the document's text; nothing is corrected or dropped
    assert any("engine 0il is used" in t for t in texts(on_page(d, 14)))


HELVETICA = b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>"
GREY_PIXEL = (
    b"<< /Type /XObject /Subtype /Image /Width 1 /Height 1 /ColorSpace /DeviceGray "
    b"/BitsPerComponent 8 /Length 1 >>\nstream\n\x80\nendstream"
)


def test_a_scanned_page_is_counted_and_reported_by_maint_ingest(scratch, tmp_path):
    """Page 2 is a picture with no text layer; page 3 is blank paper."""
    from tests.helpers import maint

    text = b"BT /F1 12 Tf 72 700 Td (1-1. SCOPE. This manual covers the pump.) Tj ET"
    scan = b"q 500 0 0 700 50 50 cm /Im1 Do Q"
    path = tmp_path / "scanned.pdf"
    path.write_bytes(_pdf([text, scan, b""], HELVETICA, GREY_PIXEL))
    assert parse_file(path, path.read_bytes()).pages_without_text == [2]
    run = maint("ingest", str(path), "--json", data_dir=scratch.settings.data_dir)
    assert run.returncode == 0, run.stderr
    assert "(1 page without text: scanned images)" in " ".join(run.stderr.split())
    assert json.loads(run.stdout)["files"][0]["pages_without_text"] == [2]


# -- 5. tables ---------------------------------------------------------------------------------


@needs_real
def test_rpstl_rows_keep_their_header_and_columns():
    d = doc("TM-10-5411-231-13-P")
    (rows,) = tables(d, 101)
    assert rows[0] == [
        "(1) ITEM NO.",
        "(2) SMR CODE",
        "(3) NSN",
        "(4) CAGEC",
        "(5) PART NUMBER",
        "(6) DESCRIPTION AND USABLE ON CODE (UOC)",
        "(7) QTY",
    ]
    ventilator = ["12", "PAOZZ", "5411-01-481-5892", "51489", "104050", ". VENTILATOR, 2 WAY", "2"]
    assert ventilator in rows
    assert ["13A", "PAOZZ", "", "", "MS15795-808", ". WASHER, FLAT, NO. 10, CRES", "24 AP"] in rows
    assert len(rows) >= 44  # the header, two group lines and items 1-42 with 13A/13B


@needs_real
def test_scanned_parts_list_rows_are_table_rows():
    d = doc("TM-9-2920-225-34P")
    (rows,) = tables(d, 11)
    header = " ".join(rows[0])
    assert "SMR" in header and "Federal stock number" in header and "FSCM" in header
    row = next(r for r in rows if "2920-078-2351" in r)
    assert row[-6:] == ["AMA 1004S", "19728", "END COVER AND REGULATOR", "A", "EA", "1"]
    # a description wrapped onto a second line stays in its row
    assert any(c == "CAPACITOR ASSEMBLY: U/O GENERATOR,SERIAL NO. 35,000 AND UP,ONLY)" for c in
               [c for r in rows for c in r])  # fmt: skip
    assert sum(1 for r in rows if any(NSN.search(c) for c in r)) >= 25


@needs_real
def test_parts_rows_never_become_headings_or_sections():
    for name in NAMES:
        d = doc(name)
        for _, text in headings(d):
            assert not NSN.search(text), text
            assert not SMR.search(text), text
            assert "[34.5750]" not in text
        chunks = chunk_blocks("x", to_blocks(d), lambda t: len(t.split()))
        for chunk in chunks:
            for part in chunk.section:
                assert not NSN.search(part), part


@needs_real
def test_torque_pmcs_and_kit_tables_keep_rows_and_headers():
    torque = next(
        r for r in tables(doc("TM-9-2920-225-34"), 14) if r[0][0].startswith("CAPSCREW BODY SIZE")
    )
    assert torque[1][:3] == ["1/4–20", "5 [0.6915]", "8 [1,1064]"]
    pmcs = tables(doc("TM-10-5411-231-13-P"), 45)[0]
    assert pmcs[0][:2] == ["ITEM NO.", "INTERVAL"]
    assert pmcs[1][:4] == ["1", "Before After", "0.8", "CBC Shell (1)"]
    checks = tables(doc("TM-10-5411-205-13"), 15)[0]
    assert checks[0][0] == "Item" and checks[1][:2] == ["1", "Door Handles"]
    assert checks[1][2].startswith("Make sure handles on inner and outer doors")
    kit = tables(doc("TM-10-5411-231-13-P"), 76)[1]
    assert kit[0] == ["PART NUMBER", "NOMENCLATURE", "QUANTITY"]
    assert ["COML", "Gloves, Polyethylene (medium and large)", "1 pair"] in kit
    mwo = tables(doc("MWO-9-2320-387-20-1"), 3)
    assert ["NSN", "NOMENCLATURE", "CAGEC", "PART NO.", "QTY"] in [t[0] for t in mwo]


@needs_real
def test_dot_leaders_are_stripped():
    for name in NAMES:
        leaders = [t for t in texts(doc(name).elements) if ". . ." in t or "...." in t]
        assert not leaders, leaders[:3]


# -- 6. sections -------------------------------------------------------------------------------


@needs_real
def test_sections_come_from_the_manuals_numbering():
    found = headings(doc("TM-9-2920-225-34"))
    for expected in [
        (1, "CHAPTER 2 EQUIPMENT GROUP MAINTENANCE"),
        (2, "Section III. LEECE-NEVILLE MODEL GENERATOR 3002AC"),
        (3, "2-7. FAN AND HUB ASSEMBLY"),
        (4, "a. Preliminary Procedure"),
        (3, "1-4. PAINTING"),  # run into its paragraph: "1-4. PAINTING. Refer to TM 43-0139…"
        (5, "Table 1-1. Standard Torque Specifications"),
    ]:
        assert expected in found
    cbc = headings(doc("TM-10-5411-231-13-P"))
    assert (1, "CHAPTER 2 OPERATOR’S INSTRUCTIONS") in cbc
    assert (2, "WP 0006 00 OPERATION UNDER USUAL CONDITIONS") in cbc
    assert (2, "WP 0025 00 GROUP 00 CARGO BED COVER PARTS LIST") in cbc
    mwo = headings(doc("MWO-9-2320-387-20-1"))
    assert (3, "10. MODIFICATION PROCEDURES") in mwo and (4, "a. Vehicle Preparation") in mwo


@needs_real
def test_painting_paragraph_is_under_its_heading():
    d = doc("TM-9-2920-225-34")
    blocks = to_blocks(d)
    block = next(b for b in blocks if b.text.startswith("Refer to TM 43-0139 for painting"))
    assert block.section[-1] == "1-4. PAINTING"
    assert block.section[0] == "CHAPTER 1 GENERAL MAINTENANCE INFORMATION"


@needs_real
def test_a_table_title_heads_its_table_only():
    d = doc("TM-10-5411-231-13-P")
    els = on_page(d, 76)
    title = next(i for i, e in enumerate(els) if e.text.startswith("Table 0021 00-1."))
    assert els[title].kind == "heading" and els[title + 1].kind == "table"
    blocks = [b for b in to_blocks(d) if b.page_start == 77]
    assert blocks and all("Table 0021 00-2" not in " ".join(b.section) for b in blocks)


@needs_real
@pytest.mark.parametrize("name", NAMES)
def test_no_junk_heading(name):
    for level, text in headings(doc(name)):
        letters, digits = sum(c.isalpha() for c in text), sum(c.isdigit() for c in text)
        assert re.search(r"[A-Za-z]{3}", text) and letters > digits, text
        assert not re.fullmatch(r"[\W\dIl ]+", text), text  # "w > I > I", "250 [34.5750]"
        assert 1 <= level <= 5


# -- 7. title page -----------------------------------------------------------------------------


@needs_real
def test_title_publication_and_equipment_come_from_the_title_page():
    p = doc("TM-9-2920-225-34P")
    assert p.title.startswith("Direct Support and General Support Maintenance Repair Parts")
    assert p.title.endswith(": Generator, Engine Accessory (Alternating Current)")
    assert p.publication == "TM 9-2920-225-34P"
    models = {(e.model, e.nsn) for e in p.equipment}
    assert {("AMA-5102UT", "2920-909-2483"), ("3002AD", "2920-909-2483")} <= models
    assert {("5504AB", "2920-475-1446"), ("5300GP", "2920-818-8635")} <= models

    tm = doc("TM-9-2920-225-34")
    assert tm.title == "Maintenance Direct and General Support Level: Generator Assembly"
    assert tm.publication == "TM 9-2920-225-34"
    assert ("2184AC", "2920-00-782-1955") in {(e.model, e.nsn) for e in tm.equipment}

    cbc = doc("TM-10-5411-231-13-P")
    assert cbc.title == (
        "Operator’s, Unit, and Direct Support Maintenance Manual Including Repair Parts and "
        "Special Tools List (RPSTL): Cargo Bed Cover (CBC) HMMWV, Type I"
    )
    assert cbc.publication == "TM 10-5411-231-13&P"
    assert {e.nsn for e in cbc.equipment} == {"5411-01-467-3243", "5411-01-479-1928"}

    s250 = doc("TM-10-5411-205-13")
    assert s250.title.startswith("Operator’s, Unit, and Direct Support Maintenance Manual: ")
    assert "Shelter, Electrical Equipment S-250/G" in s250.title
    assert s250.publication == "TM 10-5411-205-13"
    assert ("S-250/G", "5411-00-489-6076") in {(e.model, e.nsn) for e in s250.equipment}

    mwo = doc("MWO-9-2320-387-20-1")
    assert mwo.title.startswith("Modification Work Order: Modification of 1-1/4 Ton Vehicle")
    assert "Rear Differential Cooler Modification Kit" in mwo.title
    assert mwo.publication == "MWO 9-2320-387-20-1"
    assert {e.model for e in mwo.equipment} == {"M1113", "M1114"}


# -- rules, without files -----------------------------------------------------------------------


@pytest.mark.parametrize(
    "label", ["12", "2-14", "0025 00-1", "B-7/(B-8 blank)", "Change 1", "iv", "Page 3 of 19"]
)
def test_page_label_shapes(label):
    assert is_page_label(label)


@pytest.mark.parametrize("text", ["2-41. ENGINE ASSEMBLY", "NOTE", "PAOZZ", "(1)"])
def test_text_is_no_page_label(text):
    assert not is_page_label(text)


def test_publication_numbers_and_stock_numbers():
    for pub in ["TM 9-2920-225-34", "T.O. 38X6-7-22", "MWO 9-2320-387-20-1", "TM 10-5411-231-13&P"]:
        assert is_publication_number(pub), pub
    assert not is_publication_number("NSN 2920-00-909-2483")
    assert not is_publication_number("2-41. ENGINE ASSEMBLY")


def test_numbering_makes_headings_and_junk_never_does():
    assert numbered_heading("2-41. ENGINE ASSEMBLY").level == 3
    run_in = numbered_heading("1-4. PAINTING. Refer to TM 43-0139 for painting instructions.")
    assert run_in.text == "1-4. PAINTING"
    assert run_in.rest == "Refer to TM 43-0139 for painting instructions."
    assert numbered_heading("Section III. LEECE-NEVILLE MODEL GENERATOR 3002AC").level == 2
    assert numbered_heading("Table 2-1. Operator Preventive Maintenance Checks").level == 5
    assert numbered_heading("Table 1-2 lists the special tools and equipment") is None
    assert numbered_heading("CHAPTER 1 INTRODUCTION . . . . . . . 1-1") is None
    assert numbered_heading("1. Tag all leads (1) so they will be put back the same way.") is None
    for junk in ["250 [34.5750] 660 [91.2780] 990 [136.9170]", "w > I > I",
                 "1 PAOZZ 2920011883863 70040 5614017 GLOW PLUG 8"]:  # fmt: skip
        assert not is_heading_text(junk), junk
