"""Turn files and fetched payloads into plain text: text, Markdown, HTML and PDF.

    doc = read_file(Path("guide.pdf"))                      # LoadedDocument(text, title, content_type, pages)
    doc = read_payload(body, source="https://...", content_type="text/html; charset=utf-8")
    doc = load_text("raw text", title="notes")

Bytes of unknown encoding are decoded by BOM, then strict UTF-8, then charset-normalizer's best guess.
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

from pydantic import BaseModel, Field

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
    text: str
    title: str
    source: str
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
    text = data if isinstance(data, str) else decode_bytes(data, source=source, charset=charset)
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
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        pass
    from charset_normalizer import from_bytes

    # NUL bytes in the head: binary, whatever the detector would say (so it is not run on it).
    matches = [] if b"\x00" in data[:4096] else list(from_bytes(data))
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
    for tag in soup.find_all(_BLOCK_TAGS):
        tag.insert_before("\n\n" if tag.name.startswith("h") or tag.name == "p" else "\n")
        tag.insert_after("\n")
    lines = [" ".join(line.split()) for line in soup.get_text().splitlines()]
    text = "\n".join(lines)
    return text, title or None


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
