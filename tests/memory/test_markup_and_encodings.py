"""Extraction keeps what markup separates, and text decodes in the encodings people save it in
(issue 12, faults 7 and 9).

Reported cases: an HTML table came out as `NameDays\\n\\nAlice30` so a keyword search for `Alice` found
nothing; a UTF-16 file without a byte-order mark holding non-ASCII text was refused as binary; a short
Latin-1 file holding `café` came out as `cafť`."""

from __future__ import annotations

from pathlib import Path

import pytest

from llamasys.tools.memory import DocumentReadError, MemoryStore, read_file, read_payload
from llamasys.tools.memory.ingest import decode_bytes, html_to_text

TABLE = "<table><tr><th>Name</th><th>Days</th></tr><tr><td>Alice</td><td>30</td></tr></table>"


def test_the_reported_table_keeps_its_cells_and_rows():
    text, _ = html_to_text(TABLE)
    assert [line for line in text.splitlines() if line] == [
        "| Name | Days |",
        "| --- | --- |",
        "| Alice | 30 |",
    ]


def test_keyword_search_finds_a_table_cell(hashing_store: MemoryStore):
    bank = hashing_store.create_bank("tables")
    bank.add_payload(f"<html><body><p>Leave taken.</p>{TABLE}</body></html>".encode(), source="leave.html")
    hits = bank.search("Alice", mode="keyword")
    assert len(hits) == 1 and "| Alice | 30 |" in hits[0].text


@pytest.mark.parametrize(
    "html, lines",
    [
        (TABLE.replace("<tr>", "<thead><tr>", 1).replace("</tr>", "</tr></thead>", 1),
         ["| Name | Days |", "| --- | --- |", "| Alice | 30 |"]),
        ("<table><tbody><tr><td>a</td><td>b</td></tr><tr><td>c</td><td>d</td></tr></tbody></table>",
         ["| a | b |", "| c | d |"]),
        ("<table><tr><td>line<br>break</td><td>x</td></tr></table>", ["| line break | x |"]),
        ("<table><tr><td colspan='2'>wide</td></tr><tr><td>1</td><td>2</td></tr></table>",
         ["| wide | |", "| 1 | 2 |"]),
        ("<table><tr><td>a|b</td></tr></table>", ["| a\\|b |"]),
        ("<table><tr><td>out<table><tr><td>in1</td><td>in2</td></tr></table></td><td>y</td></tr></table>",
         ["| out \\| in1 \\| in2 \\| | y |"]),
        ("<ul><li>one</li><li>two</li></ul>", ["- one", "- two"]),
        ("<ol><li>first</li><li>second</li></ol>", ["1. first", "2. second"]),
        ("<ol start='3'><li>third</li><li>fourth</li></ol>", ["3. third", "4. fourth"]),
        ("<ol><li>a<ul><li>inner</li></ul></li><li>b</li></ol>", ["1. a", "- inner", "2. b"]),
        ("<p>line one<br>line two<br/>line three</p>", ["line one", "line two", "line three"]),
        ("<div>a</div><div>b</div>", ["a", "b"]),
        ("<dl><dt>Term</dt><dd>Meaning</dd></dl>", ["Term", "Meaning"]),
        ("<p>in<b>line</b> <i>words</i> stay</p>", ["inline words stay"]),
    ],
)  # fmt: skip
def test_markup_separation_is_kept(html, lines):
    text, _ = html_to_text(html)
    assert [line for line in text.splitlines() if line.strip()] == lines


FRENCH = "Le café de la gare ouvre à sept heures.\n"


@pytest.mark.parametrize("encoding", ["utf-16-le", "utf-16-be", "utf-32-le", "utf-32-be"])
@pytest.mark.parametrize(
    "text",
    [FRENCH, "日本語のテキストです。\n", "Привет, мир!\n", "plain ascii\n", "新员工每年有二十天带薪休假。\n"],
)
def test_utf16_and_utf32_without_a_byte_order_mark(tmp_path: Path, encoding: str, text: str):
    path = tmp_path / "note.txt"
    path.write_bytes(text.encode(encoding))
    assert read_file(path).text == text.strip()


WESTERN = [
    "café",  # the reported case (came out as cafť)
    "Ça va? Très bien.",
    "naïve résumé",
    "Größe",
    "déjà vu",
    "Smørrebrød og æblegrød",
    "¿Qué tal?",
    "“quoted” — 5 €",
    "El niño pidió más café y una canción.",
]


def _encodable(text: str, encoding: str) -> bool:
    try:
        text.encode(encoding)
    except UnicodeEncodeError:
        return False
    return True


@pytest.mark.parametrize(
    ("text", "encoding"),
    [(t, e) for e in ("latin-1", "cp1252") for t in WESTERN if _encodable(t, e)],
)
def test_short_western_text_in_a_legacy_code_page(text: str, encoding: str):
    data = text.encode(encoding)
    assert decode_bytes(data, source="note.txt") == text


@pytest.mark.parametrize(
    ("text", "encoding"),
    [
        ("Привет, как дела? Всё хорошо.", "cp1251"),
        ("Zażółć gęślą jaźń", "cp1250"),
        ("Καλημέρα κόσμε", "cp1253"),
    ],
)
def test_short_non_western_code_pages_are_not_taken_for_western(text: str, encoding: str):
    assert decode_bytes(text.encode(encoding), source="note.txt") == text


def test_the_declared_charset_wins_and_binary_is_still_refused(tmp_path: Path):
    doc = read_payload("café".encode("utf-16-le"), source="x", content_type="text/plain; charset=utf-16-le")
    assert doc.text == "café"
    for name, data in {
        "image.txt": b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x01\x00",
        "archive.txt": b"PK\x03\x04\x14\x00\x00\x00\x08\x00!\x00",
        "odd.txt": b"a\x00b\x00c",
    }.items():
        (tmp_path / name).write_bytes(data)
        with pytest.raises(DocumentReadError, match="binary"):
            read_file(tmp_path / name)
