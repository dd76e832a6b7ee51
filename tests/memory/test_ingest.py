"""Readers: text with unknown encodings, Markdown, HTML, PDF, fetched payloads, and the errors for bad input."""

from __future__ import annotations

from pathlib import Path

import pytest
from memory.pdf_writer import pdf_bytes, write_pdf

from llamasys.tools.memory import DocumentReadError, UnsupportedDocumentError, read_file, read_payload
from llamasys.tools.memory.ingest import html_to_text

FRENCH = "Le café de la gare ouvre à sept heures. Déjà trois élèves attendent le garçon.\n"


@pytest.mark.parametrize("encoding", ["utf-8", "utf-8-sig", "utf-16", "cp1252", "latin-1"])
def test_text_in_any_common_encoding_is_decoded(tmp_path: Path, encoding: str) -> None:
    path = tmp_path / "note.txt"
    path.write_bytes((FRENCH * 5).encode(encoding))
    doc = read_file(path)
    assert doc.text.startswith("Le café de la gare ouvre à sept heures. Déjà trois élèves")
    assert doc.title == "note.txt" and doc.content_type == "text/plain"


@pytest.mark.parametrize(
    ("text", "encoding"),
    [
        ("Привет, мир! Это небольшой текст на русском языке для проверки кодировки.\n", "cp1251"),
        ("日本語のテキストです。文字コードの検出を確認します。\n", "shift_jis"),
        ("Größere Straßen über Brücken führen ins Tal. Die Mühle läuft.\n", "cp1252"),
    ],
)
def test_non_western_encodings_are_detected(tmp_path: Path, text: str, encoding: str) -> None:
    path = tmp_path / "note.txt"
    path.write_bytes((text * 3).encode(encoding))
    assert read_file(path).text == (text * 3).strip()


def test_markdown_title_from_heading_or_front_matter(tmp_path: Path) -> None:
    (tmp_path / "a.md").write_text("Intro line\n\n# Real Title\n\nBody text.\n", encoding="utf-8")
    (tmp_path / "b.md").write_text(
        "---\ntitle: 'From front matter'\n---\n# Heading\n\nBody.\n", encoding="utf-8"
    )
    assert read_file(tmp_path / "a.md").title == "Real Title"
    assert read_file(tmp_path / "b.md").title == "From front matter"


def test_html_keeps_visible_text_only() -> None:
    html = """<html><head><title> The  Page </title><style>.x{color:red}</style>
    <script>var secret_token = 1;</script></head>
    <body><h1>Heading</h1><p>First <b>bold</b> paragraph.</p><!-- hidden comment -->
    <nav><a href="/">Site menu</a></nav><noscript>enable js</noscript><ul><li>one</li><li>two</li></ul>
    <script>document.write('injected')</script></body></html>"""
    text, title = html_to_text(html)
    assert title == "The Page"
    assert "First bold paragraph." in text
    assert "one" in text and "two" in text and "Heading" in text
    for dropped in ("secret_token", "color:red", "injected", "hidden comment", "enable js", "Site menu"):
        assert dropped not in text


def test_html_file_uses_declared_charset(tmp_path: Path) -> None:
    path = tmp_path / "page.html"
    path.write_bytes(f"<html><body><p>{FRENCH}</p></body></html>".encode("cp1252"))
    assert "Déjà trois élèves" in read_file(path).text


def test_pdf_text_pages_and_title(tmp_path: Path) -> None:
    path = write_pdf(
        tmp_path / "report.pdf",
        [["Page one says hello (politely).", "Second line of page one."], ["Page two is about otters."]],
        title="Quarterly Report",
    )
    doc = read_file(path)
    assert doc.title == "Quarterly Report" and doc.content_type == "application/pdf"
    assert "Page one says hello (politely)." in doc.text and "otters" in doc.text
    assert doc.pages[0] == 0 and len(doc.pages) == 2
    assert doc.page_of(doc.text.index("otters")) == 2
    assert doc.page_of(doc.text.index("Second line")) == 1


def test_pdf_without_text_says_to_run_ocr(tmp_path: Path) -> None:
    path = write_pdf(tmp_path / "scan.pdf", [[], []])
    with pytest.raises(DocumentReadError, match=r"no extractable text \(2 page\(s\).*OCR"):
        read_file(path)


def test_truncated_pdf_is_a_read_error(tmp_path: Path) -> None:
    path = tmp_path / "broken.pdf"
    path.write_bytes(pdf_bytes([["some text"]])[:60])
    with pytest.raises(DocumentReadError, match="broken.pdf"):
        read_file(path)


def test_bad_files_give_clear_errors(tmp_path: Path) -> None:
    (tmp_path / "empty.txt").write_bytes(b"")
    (tmp_path / "blank.md").write_text("\n   \n\t\n", encoding="utf-8")
    (tmp_path / "sheet.xlsx").write_bytes(b"PK\x03\x04 not really")
    (tmp_path / "binary.txt").write_bytes(bytes(range(256)) * 8)
    with pytest.raises(DocumentReadError, match="empty"):
        read_file(tmp_path / "empty.txt")
    with pytest.raises(DocumentReadError, match="no text"):
        read_file(tmp_path / "blank.md")
    with pytest.raises(UnsupportedDocumentError, match=r"unsupported file type '\.xlsx'.*supported:.*PDF"):
        read_file(tmp_path / "sheet.xlsx")
    with pytest.raises(DocumentReadError, match="binary"):
        read_file(tmp_path / "binary.txt")
    with pytest.raises(DocumentReadError, match="no such file"):
        read_file(tmp_path / "missing.md")
    with pytest.raises(DocumentReadError, match="add_folder"):
        read_file(tmp_path)


def test_payload_type_from_header_or_url() -> None:
    html = "<html><head><title>Fetched</title></head><body><p>Straße und Müll</p></body></html>"
    doc = read_payload(
        html.encode("latin-1"), source="https://example.org/x", content_type="text/html; charset=ISO-8859-1"
    )
    assert doc.title == "Fetched" and "Straße und Müll" in doc.text and doc.source == "https://example.org/x"
    doc = read_payload("# Notes\n\nplain body", source="https://example.org/notes.md?raw=1")
    assert doc.content_type == "text/markdown" and doc.title == "Notes"
    pdf = read_payload(
        pdf_bytes([["pdf body"]]), source="https://example.org/download", content_type="application/pdf"
    )
    assert "pdf body" in pdf.text
    with pytest.raises(UnsupportedDocumentError, match="image/png"):
        read_payload(b"\x89PNG", source="https://example.org/a.png", content_type="image/png")
    with pytest.raises(UnsupportedDocumentError, match="content_type"):
        read_payload(b"data", source="blob-without-extension")
