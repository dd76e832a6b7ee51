"""Turn files and fetched payloads into plain text: text, Markdown, HTML and PDF.

    doc = read_file(Path("guide.pdf"))                      # LoadedDocument(text, title, content_type, pages)
    doc = read_payload(body, source="https://...", content_type="text/html; charset=utf-8")
    doc = load_text("raw text", title="notes")

Bytes of unknown encoding are decoded by BOM, then the declared charset, then BOM-less UTF-16/32 (bytes
holding NULs: the byte order from where the NULs fall; no fit = binary), then strict UTF-8, then — for
short text, where statistical detectors guess wildly — windows-1252 when that gives Western words, then
charset-normalizer's best guess. HTML keeps the separation its markup expresses: tables become Markdown
rows (`| Alice | 30 |`), list items `- ` / `1. ` lines, `<br>` a line break.
Every failure is a `DocumentReadError` (or `UnsupportedDocumentError`) whose message names the file and
says what to do; callers that ingest many files report it per file and go on.
"""

from __future__ import annotations

import bisect
import codecs
import io
import logging
import mimetypes
import re
from pathlib import Path
from typing import Any

from pydantic import BaseModel, Field

from llamasys.core_model.messages import UnicodeText, valid_unicode

from .errors import DocumentReadError, UnsupportedDocumentError

log = logging.getLogger(__name__)

TEXT = "text/plain"
MARKDOWN = "text/markdown"
HTML = "text/html"
PDF = "application/pdf"

EXTENSIONS: dict[str, str] = {
    ".txt": TEXT,
    ".text": TEXT,
    ".log": TEXT,
    ".rst": TEXT,
    ".csv": TEXT,
    ".tsv": TEXT,
    ".json": TEXT,
    ".yaml": TEXT,
    ".yml": TEXT,
    ".toml": TEXT,
    ".py": TEXT,
    ".md": MARKDOWN,
    ".markdown": MARKDOWN,
    ".mdown": MARKDOWN,
    ".html": HTML,
    ".htm": HTML,
    ".xhtml": HTML,
    ".pdf": PDF,
}
SUPPORTED = (
    "plain text (" + ", ".join(e for e, t in EXTENSIONS.items() if t == TEXT) + "), Markdown, HTML, PDF"
)

# Content types a fetched payload may carry, beyond text/*.
_CONTENT_TYPES = {
    "application/xhtml+xml": HTML,
    "application/pdf": PDF,
    "application/x-pdf": PDF,
    "application/json": TEXT,
    "application/x-yaml": TEXT,
    "application/yaml": TEXT,
    "text/x-markdown": MARKDOWN,
    "text/markdown": MARKDOWN,
    "text/html": HTML,
}


class LoadedDocument(BaseModel):
    # Valid Unicode always (a lone surrogate, e.g. from a file name, becomes U+FFFD): SQL drivers,
    # tokenizers and embedders reject anything else.
    text: UnicodeText
    title: UnicodeText
    source: UnicodeText
    content_type: str
    # Character offset where each PDF page starts (page n at pages[n-1]); empty for other types.
    pages: list[int] = Field(default_factory=list)

    def page_of(self, char_offset: int) -> int | None:
        if not self.pages:
            return None
        return bisect.bisect_right(self.pages, char_offset) or 1  # pages that start at or before it


def content_type_for_path(path: Path) -> str:
    kind = EXTENSIONS.get(path.suffix.lower())
    if kind is None:
        raise UnsupportedDocumentError(
            f"{path}: unsupported file type {path.suffix or '(no extension)'!r}; supported: {SUPPORTED}. "
            "Convert it to one of these, or pass its text with add_text()"
        )
    return kind


def read_file(path: Path | str) -> LoadedDocument:
    path = Path(path)
    if not path.exists():
        raise DocumentReadError(f"{path}: no such file")
    if not path.is_file():
        raise DocumentReadError(f"{path}: not a regular file; use add_folder() for a folder")
    kind = content_type_for_path(path)
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise DocumentReadError(
            f"{path}: cannot be read ({exc.strerror or exc}); check its permissions"
        ) from exc
    return _load(data, source=str(path), content_type=kind, fallback_title=path.name)


def read_payload(data: bytes | str, *, source: str, content_type: str | None = None) -> LoadedDocument:
    """A document already fetched (e.g. an HTTP body): its type from `content_type`, else from `source`."""
    charset = None
    kind = None
    if content_type:
        mime, _, params = content_type.partition(";")
        mime = mime.strip().lower()
        match = re.search(r"charset\s*=\s*\"?([\w.:-]+)", params, re.IGNORECASE)
        charset = match.group(1) if match else None
        kind = _CONTENT_TYPES.get(mime) or (TEXT if mime.startswith("text/") else None)
        if kind is None:
            raise UnsupportedDocumentError(
                f"{source}: unsupported content type {mime!r}; supported: {SUPPORTED}"
            )
    if kind is None:
        path_part = source.split("?", 1)[0].split("#", 1)[0]
        suffix = Path(path_part).suffix.lower()
        kind = EXTENSIONS.get(suffix)
        if kind is None:
            guessed, _ = mimetypes.guess_type(path_part)
            kind = _CONTENT_TYPES.get(guessed or "") or (
                HTML if source.startswith(("http://", "https://")) else None
            )
        if kind is None:
            raise UnsupportedDocumentError(
                f"{source}: cannot tell the document type; pass content_type (supported: {SUPPORTED})"
            )
    fallback = source.rstrip("/").rsplit("/", 1)[-1] or source
    return _load(data, source=source, content_type=kind, fallback_title=fallback, charset=charset)


def load_text(
    text: str, *, title: str, source: str | None = None, content_type: str = TEXT
) -> LoadedDocument:
    return _load(
        text, source=source or title, content_type=content_type, fallback_title=title, given_title=title
    )


def _load(
    data: bytes | str,
    *,
    source: str,
    content_type: str,
    fallback_title: str,
    charset: str | None = None,
    given_title: str | None = None,
) -> LoadedDocument:
    if not data:
        raise DocumentReadError(f"{source}: the document is empty; nothing to index")
    if content_type == PDF:
        if isinstance(data, str):
            raise DocumentReadError(f"{source}: a PDF must be given as bytes, not text")
        return _load_pdf(data, source=source, fallback_title=given_title or fallback_title)
    text = (
        valid_unicode(data) if isinstance(data, str) else decode_bytes(data, source=source, charset=charset)
    )
    title = given_title
    if content_type == HTML:
        text, html_title = html_to_text(text)
        title = title or html_title
    elif content_type == MARKDOWN:
        title = title or _markdown_title(text)
    text = _normalise(text)
    if not text.strip():
        raise DocumentReadError(
            f"{source}: the document has no text once read ({content_type}); nothing to index"
        )
    return LoadedDocument(text=text, title=title or fallback_title, source=source, content_type=content_type)


def decode_bytes(data: bytes, *, source: str, charset: str | None = None) -> str:
    for bom, encoding in (
        (codecs.BOM_UTF8, "utf-8-sig"),
        (codecs.BOM_UTF32_LE, "utf-32"),
        (codecs.BOM_UTF32_BE, "utf-32"),
        (codecs.BOM_UTF16_LE, "utf-16"),
        (codecs.BOM_UTF16_BE, "utf-16"),
    ):
        if data.startswith(bom):
            return data.decode(encoding, errors="replace")
    if charset:
        try:
            return data.decode(charset)
        except (LookupError, UnicodeDecodeError):
            log.info("%s: declared charset %r does not decode it; detecting", source, charset)
    if b"\x00" in data:
        # UTF-8 and the legacy code pages never hold NUL in text; UTF-16/32 without a BOM do.
        wide = _wide_text(data)
        if wide is None:
            raise DocumentReadError(
                f"{source}: looks like binary data, not text (it holds NUL bytes and is no UTF-16/32 "
                "text); convert it to text, Markdown, HTML or PDF first"
            )
        log.info("%s: decoded as BOM-less UTF-16/32", source)
        return wide
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        pass
    western = _short_western(data)
    if western is not None:
        log.info("%s: decoded as windows-1252 (short Western text)", source)
        return western
    from charset_normalizer import from_bytes

    matches = list(from_bytes(data))
    if not matches:
        raise DocumentReadError(
            f"{source}: looks like binary data, not text (no text encoding fits); "
            "convert it to text, Markdown, HTML or PDF first"
        )
    best = matches[0]
    # On short Western text the detector often prefers a Baltic or Central European code page that fits
    # about as well; windows-1252 is by far the most common legacy encoding (the WHATWG default for
    # Western pages), so it wins a near tie.
    for match in matches:
        if match.encoding == "cp1252" and match.percent_chaos <= best.percent_chaos + _NEAR_TIE_CHAOS:
            best = match
            break
    log.info("%s: decoded as %s", source, best.encoding)
    return str(best)


_NEAR_TIE_CHAOS = 10.0  # percentage points of charset-normalizer's "chaos" measure
_SHORT = 512  # bytes: below this, statistical detectors guess wildly (4 bytes of "café" came out as Big5)
_TEXTUAL = 0.97  # share of printable characters (or whitespace) that makes decoded bytes text


def _is_textual(text: str) -> bool:
    if not text or "\x00" in text:
        return False
    printable = sum(1 for ch in text if ch.isprintable() or ch in "\t\n\r\f\v")
    return printable >= _TEXTUAL * len(text)


def _wide_text(data: bytes) -> str | None:
    """BOM-less UTF-32 or UTF-16 text, or None. The byte order is the one whose NULs fall where ASCII
    and Latin text puts them (the high byte of each unit); strict decoding rejects lone surrogates."""
    candidates: list[str] = []
    if len(data) % 4 == 0:
        candidates += ["utf-32-le", "utf-32-be"]
    if len(data) % 2 == 0:
        odd_zeros = data[1::2].count(0)
        even_zeros = data[0::2].count(0)
        candidates += ["utf-16-le", "utf-16-be"] if odd_zeros >= even_zeros else ["utf-16-be", "utf-16-le"]
    for encoding in candidates:
        try:
            text = data.decode(encoding)
        except UnicodeDecodeError:
            continue
        if _is_textual(text):
            return text
    return None


# What windows-1252 turns Western text into: ASCII, accented Latin letters, and its typographic marks.
_WESTERN_LETTERS = frozenset([chr(c) for c in range(0xC0, 0x100) if chr(c) not in "×÷"] + list("ŒœŠšŽžŸƒ"))
_WESTERN_MARKS = frozenset("\u00a0“”‘’‚„–—…€«»°·§©®™£¥¢•†‡‰‹›¹²³½¼¾ªº")


def _short_western(data: bytes) -> str | None:
    """A short legacy-encoded text read as windows-1252 when that gives Western words: every non-ASCII
    character an accented letter inside mostly-ASCII words (or a typographic mark). Cyrillic, Greek or
    Central European code pages give symbols or runs of accented letters instead, and go to the detector."""
    if len(data) >= _SHORT:
        return None
    try:
        text = data.decode("cp1252")
    except UnicodeDecodeError:
        return None
    letters = [ch for ch in text if ch.isalpha()]
    accented = [ch for ch in letters if not ch.isascii()]
    if text.isascii() or len(accented) > 0.4 * len(letters):
        return None
    for i, ch in enumerate(text):
        if ch.isascii():
            continue
        if ch in _WESTERN_LETTERS or ch in _WESTERN_MARKS:
            continue
        if ch in "¿¡" and (i == 0 or not text[i - 1].isalnum()):
            continue
        return None
    return text if _is_textual(text) else None


_DROP_TAGS = ("script", "style", "noscript", "template", "svg", "canvas", "iframe", "object", "head", "nav")
_BLOCK_TAGS = (
    "p", "div", "section", "article", "main", "header", "footer", "aside", "nav", "li", "ul", "ol",
    "table", "tr", "br", "hr", "h1", "h2", "h3", "h4", "h5", "h6", "pre", "blockquote", "dd", "dt", "figcaption",
)  # fmt: skip


def html_to_text(html: str) -> tuple[str, str | None]:
    """Visible text of an HTML page (scripts, styles, navigation menus and the head dropped) and its title."""
    from bs4 import BeautifulSoup, Comment

    try:
        soup = BeautifulSoup(html, "lxml")
    except Exception:  # lxml missing or choking: the stdlib parser is slower but always there
        soup = BeautifulSoup(html, "html.parser")
    title = None
    if soup.title and soup.title.string:
        title = " ".join(soup.title.string.split())
    for tag in soup(_DROP_TAGS):
        tag.decompose()
    for comment in soup.find_all(string=lambda s: isinstance(s, Comment)):
        comment.extract()
    if not title:
        heading = soup.find("h1")
        title = " ".join(heading.get_text(" ").split()) if heading else None
    for br in soup.find_all("br"):
        br.replace_with("\n")
    for item in soup.find_all("li"):
        parent = item.find_parent(["ul", "ol"])
        if parent is not None and parent.name == "ol":
            siblings = [li for li in parent.find_all("li") if li.find_parent(["ul", "ol"]) is parent]
            start = int(parent["start"]) if str(parent.get("start", "")).isdigit() else 1
            item.insert(0, f"{start + siblings.index(item)}. ")
        else:
            item.insert(0, "- ")
    for tag in soup.find_all(_BLOCK_TAGS):
        tag.insert_before("\n\n" if tag.name.startswith("h") or tag.name == "p" else "\n")
        tag.insert_after("\n")
    for table in reversed(soup.find_all("table")):  # innermost first: a nested table becomes a cell's text
        table.replace_with(f"\n\n{_table_rows(table)}\n\n")
    lines = [" ".join(line.split()) for line in soup.get_text().splitlines()]
    text = "\n".join(lines)
    return text, title or None


def _table_rows(table: Any) -> str:
    """A table as Markdown rows (`| Name | Days |`, a `| --- |` rule under a header row)."""
    rows: list[str] = []
    for row in table.find_all("tr"):
        if row.find_parent("table") is not table:
            continue
        cells = [c for c in row.find_all(["td", "th"]) if c.find_parent("tr") is row]
        if not cells:
            continue
        texts = [" ".join(c.get_text().split()).replace("|", "\\|") for c in cells]
        span = sum(int(c["colspan"]) if str(c.get("colspan", "")).isdigit() else 1 for c in cells)
        texts += [""] * (span - len(cells))  # a spanning cell keeps the columns of the rows below aligned
        rows.append("| " + " | ".join(texts) + " |")
        if len(rows) == 1 and all(c.name == "th" for c in cells):
            rows.append("|" + " --- |" * len(texts))
    return "\n".join(rows)


def _markdown_title(text: str) -> str | None:
    body = text
    if body.startswith("---\n"):  # YAML front matter: a `title:` line wins
        end = body.find("\n---", 4)
        if end > 0:
            match = re.search(r"^title:\s*['\"]?(.+?)['\"]?\s*$", body[4:end], re.MULTILINE)
            if match:
                return match.group(1)
            body = body[end + 4 :]
    match = re.search(r"^#\s+(.+?)\s*#*\s*$", body, re.MULTILINE)
    return match.group(1) if match else None


def _load_pdf(data: bytes, *, source: str, fallback_title: str) -> LoadedDocument:
    from pypdf import PdfReader
    from pypdf.errors import PdfReadError

    try:
        reader = PdfReader(io.BytesIO(data))
        if reader.is_encrypted and not reader.decrypt(""):
            raise DocumentReadError(f"{source}: the PDF is encrypted with a password; decrypt it first")
        page_texts = [page.extract_text() or "" for page in reader.pages]
        metadata_title = (reader.metadata.title if reader.metadata else None) or None
    except DocumentReadError:
        raise
    except (PdfReadError, ValueError, KeyError, TypeError, OSError) as exc:
        raise DocumentReadError(
            f"{source}: not a readable PDF ({exc}); check that the file is complete"
        ) from exc
    pages: list[int] = []
    parts: list[str] = []
    offset = 0
    for page_text in page_texts:
        page_text = _normalise(page_text)
        pages.append(offset)
        parts.append(page_text)
        offset += len(page_text) + 2  # the "\n\n" that joins pages
    text = "\n\n".join(parts)
    if not text.strip():
        raise DocumentReadError(
            f"{source}: the PDF has no extractable text ({len(page_texts)} page(s), probably scanned images); "
            "run OCR on it first (e.g. ocrmypdf) and ingest the result"
        )
    title = (
        metadata_title.strip()
        if isinstance(metadata_title, str) and metadata_title.strip()
        else fallback_title
    )
    return LoadedDocument(text=text, title=title, source=source, content_type=PDF, pages=pages)


def _normalise(text: str) -> str:
    """Unix newlines, no trailing spaces, at most one blank line in a row, no NULs."""
    text = text.replace("\r\n", "\n").replace("\r", "\n").replace("\x00", "")
    text = "\n".join(line.rstrip() for line in text.split("\n"))
    return re.sub(r"\n{3,}", "\n\n", text).strip()
