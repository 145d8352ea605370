"""Upload file names that cannot escape the upload folder."""

from __future__ import annotations

from serving.api.uploads import safe_name


def test_safe_name():
    assert safe_name("../../etc/x.pdf") == "x.pdf"
    assert safe_name("/abs/path/manual.PDF") == "manual.PDF"
    assert safe_name("C:\\Users\\me\\..\\pump manual.md") == "pump manual.md"
    assert safe_name("a\x00b.txt") == "ab.txt"
    assert safe_name("..") == "upload" and safe_name("") == "upload" and safe_name(None) == "upload"
    assert safe_name(".bashrc") == "bashrc"
    assert safe_name("pump<>|:*?.html") == "pump_.html"
    assert safe_name("x" * 300 + ".pdf") == "x" * 116 + ".pdf"
    for raw in ("../../a.pdf", "..\\b.md", "/c.txt", "d/../../e.htm", "\x00/../f.md"):
        name = safe_name(raw)
        assert "/" not in name and "\\" not in name and "\x00" not in name
        assert not name.startswith(".")
