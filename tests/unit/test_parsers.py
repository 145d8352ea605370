"""Each sample format parses into structure: headings, procedures, tables, warnings, pages."""

from pathlib import Path

import pytest

from ingestion.parsers import ParseError, dehyphenate, parse_file
from tests.helpers import SAMPLES


def parse(name: str):
    path = SAMPLES / name
    return parse_file(path, path.read_bytes())


def text_of(doc) -> str:
    return "\n".join(e.text or " | ".join(" ".join(r) for r in e.rows or []) for e in doc.elements)


def test_pdf_pages_columns_hyphens_headers_tables():
    doc = parse("p200-centrifugal-pump.pdf")
    assert doc.format == "pdf" and doc.pages == 19
    text = text_of(doc)
    # Running headers and footers are gone.
    assert "Page 3 of 19" not in text
    assert "IOM Manual" not in text.split("\n", 3)[-1]
    # Two columns read one after the other, and a paragraph broken across them joined,
    # with hyphenated line breaks undone.
    assert (
        "or below the minimum continuous flow. In each of these cases the energy absorbed" in text
    )
    assert "en- ergy" not in text and "energy" in text
    # Tables survive as tables, with their units.
    torque = next(e for e in doc.elements if e.kind == "table" and "Fastener" in e.rows[0])
    assert (torque.rows[1][:4]) == [
        "Impeller nut (lock washer WP-2207-A)",
        "M24 x 2",
        "95 N·m",
        "70 lbf·ft",
    ]
    assert torque.page == 14
    # Headings carry their levels; procedures keep their numbering.
    heading = next(e for e in doc.elements if e.text == "7.9 Installing the impeller")
    assert heading.kind == "heading" and heading.level == 2
    steps = [e.number for e in doc.elements if e.kind == "list_item" and e.page == 13]
    assert steps[:3] == [1, 2, 3]


def test_pdf_signal_word_on_its_own_line_joins_its_text():
    doc = parse("p200-centrifugal-pump.pdf")
    assert any(
        e.text.startswith("DANGER: Never operate the pump with hazardous") for e in doc.elements
    )


def test_html_drops_navigation_and_scripts():
    doc = parse("rsc-75-air-compressor.html")
    text = text_of(doc)
    assert doc.format == "html" and doc.title.startswith("RSC-75 Rotary-Screw Air Compressor")
    assert "AAS-TRK-0001" not in text  # a decoy part number inside a <script>
    assert "Parts Shop" not in text  # navigation bar
    assert any(e.kind == "table" and e.rows[0][0] == "Parameter" for e in doc.elements)
    assert any(e.text.startswith("WARNING:") for e in doc.elements)


def test_markdown_tables_lists_and_blockquote_warnings():
    doc = parse("cg-90-conveyor-gearbox.md")
    assert doc.format == "markdown"
    kinds = {e.kind for e in doc.elements}
    assert {"heading", "paragraph", "list_item", "table"} <= kinds
    assert any(e.text.startswith("WARNING:") for e in doc.elements)
    assert all("**" not in e.text for e in doc.elements)


def test_text_pages_fixed_width_tables_and_footers():
    doc = parse("sb-2024-07-p200-impeller.txt")
    assert doc.format == "text" and doc.pages == 4
    assert "Page 2 of 4" not in text_of(doc)
    torque = next(e for e in doc.elements if e.kind == "table" and e.rows[0][0] == "Fastener")
    assert torque.rows[1][0].startswith("Impeller nut, with lock washer WP-2207-B")
    assert torque.rows[1][2:4] == ["110 N·m", "81 lbf·ft"]
    assert len(torque.rows) == 3  # wrapped cells joined, not extra rows


def test_dehyphenate_keeps_part_numbers_and_compounds():
    assert dehyphenate(["lubri-", "cation"]) == "lubrication"
    assert dehyphenate(["lock washer WP-2207-", "B is new"]) == "lock washer WP-2207-B is new"


@pytest.mark.parametrize(
    ("name", "data", "reason"),
    [
        ("empty.txt", b"", "empty"),
        ("blank.md", b"   \n\n  ", "empty"),
        ("binary.txt", b"\x00\x01\x02PK\x03\x04" * 200, "binary"),
        ("corrupt.pdf", b"%PDF-1.7\n1 0 obj << /Type /Catalog >>\ngarbage", "PDF"),
        ("manual.docx", b"PK\x03\x04 not really", "unsupported"),
    ],
)
def test_bad_files_raise_parse_errors_with_a_hint(name, data, reason):
    with pytest.raises(ParseError) as info:
        parse_file(Path(name), data)
    assert reason.lower() in info.value.reason.lower()
    assert info.value.hint


def test_encrypted_pdf_is_refused_with_a_hint(tmp_path):
    from pypdf import PdfWriter

    writer = PdfWriter()
    writer.add_blank_page(width=200, height=200)
    writer.encrypt(user_password="secret", owner_password="owner")
    path = tmp_path / "locked.pdf"
    with path.open("wb") as fh:
        writer.write(fh)
    with pytest.raises(ParseError, match="encrypted"):
        parse_file(path, path.read_bytes())
