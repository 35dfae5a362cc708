"""Text from a scanned letter: a PDF's text layer where it has one, Tesseract OCR otherwise.

Every failure a mailroom clerk can act on is a ScanError with a plain reason. OCR that is
not installed is not an error: the pages come back empty with `ocr_missing` set, and the
letter waits for a person to read it.
"""

from __future__ import annotations

import io
import os
import shutil
from dataclasses import dataclass, field

# Tesseract's own threads thrash on small machines (2 s a page with one thread, 15 s or more
# without): set before pytesseract starts the tesseract process, which inherits it.
os.environ.setdefault("OMP_THREAD_LIMIT", "1")

MAX_PAGES = 40
MAX_BYTES = 50 * 1024 * 1024
# A page whose text layer has fewer characters than this is treated as an image.
MIN_TEXT_LAYER_CHARS = 25
OCR_DPI = 300
# A page Tesseract cannot finish in this long (heavy noise, a photo) is left for a person.
OCR_TIMEOUT_SECONDS = 45


class ScanError(Exception):
    """The file can never be read as it is; the message says why, for the mailroom."""


@dataclass(frozen=True)
class PageText:
    number: int
    text: str
    method: str  # text_layer | ocr | none
    confidence: float | None = None  # mean word confidence 0-100, for OCR


@dataclass
class ScanText:
    kind: str  # pdf | png | tiff | jpeg
    pages: list[PageText] = field(default_factory=list)
    ocr_missing: bool = False

    @property
    def text(self) -> str:
        return "\n\n".join(p.text.strip() for p in self.pages if p.text.strip())

    @property
    def confidence(self) -> float | None:
        """Mean OCR confidence over OCR'd pages weighted by their length (None: no OCR)."""
        scored = [(p.confidence, len(p.text)) for p in self.pages if p.method == "ocr"]
        total = sum(n for _, n in scored)
        if not scored:
            return None
        if total == 0:
            return 0.0
        return sum((c or 0.0) * n for c, n in scored) / total


def sniff(data: bytes) -> str | None:
    """The file's real type from its first bytes (names and declared types lie)."""
    if data.startswith(b"%PDF-") or data[:1024].find(b"%PDF-") != -1:
        return "pdf"
    if data.startswith(b"\x89PNG\r\n\x1a\n"):
        return "png"
    if data[:4] in (b"II*\x00", b"MM\x00*"):
        return "tiff"
    if data.startswith(b"\xff\xd8\xff"):
        return "jpeg"
    return None


def ocr_available() -> bool:
    return shutil.which(os.environ.get("TESSERACT_CMD", "tesseract")) is not None


def extract(data: bytes, *, ocr: bool = True) -> ScanText:
    """All the text of a scan, page by page. Raises ScanError for what cannot be read."""
    if not data:
        raise ScanError("The file is empty (0 bytes); scan the letter again.")
    if len(data) > MAX_BYTES:
        raise ScanError(f"The file is larger than {MAX_BYTES // (1024 * 1024)} MB; split the scan.")
    kind = sniff(data)
    if kind is None:
        raise ScanError("This is not a PDF, PNG, TIFF or JPEG file; scan to one of those types.")
    if kind == "pdf":
        return _from_pdf(data, ocr=ocr)
    return _from_image(data, kind, ocr=ocr)


def _open_images(data: bytes):
    from PIL import Image, UnidentifiedImageError

    try:
        image = Image.open(io.BytesIO(data))
        frames = getattr(image, "n_frames", 1)
    except (UnidentifiedImageError, OSError, ValueError) as exc:
        raise ScanError(
            f"The image file is damaged and cannot be opened ({exc.__class__.__name__})."
        ) from None
    if frames > MAX_PAGES:
        raise ScanError(f"The scan has {frames} pages; the limit is {MAX_PAGES}. Split it.")
    pages = []
    for index in range(frames):
        try:
            image.seek(index)
            image.load()
        except (OSError, ValueError, EOFError) as exc:
            raise ScanError(
                f"Page {index + 1} of the image is damaged ({exc.__class__.__name__})."
            ) from None
        pages.append(image.copy())
    return pages


def _from_image(data: bytes, kind: str, *, ocr: bool) -> ScanText:
    result = ScanText(kind=kind)
    images = _open_images(data)
    if not ocr or not ocr_available():
        result.ocr_missing = not ocr_available()
        result.pages = [PageText(i + 1, "", "none") for i in range(len(images))]
        return result
    result.pages = [ocr_page(image, i + 1) for i, image in enumerate(images)]
    return result


def _from_pdf(data: bytes, *, ocr: bool) -> ScanText:
    from pypdf import PdfReader
    from pypdf.errors import PdfReadError

    try:
        reader = PdfReader(io.BytesIO(data))
        if reader.is_encrypted:
            # Scanners sometimes "protect" with an empty password; anything else we cannot open.
            try:
                opened = reader.decrypt("")
            except Exception:  # noqa: BLE001 - pypdf raises several kinds here
                opened = 0
            if not opened:
                raise ScanError("The PDF is password-protected; ask for an unlocked copy.")
        count = len(reader.pages)
    except ScanError:
        raise
    except (PdfReadError, ValueError, KeyError, TypeError, OSError) as exc:
        raise ScanError(
            f"The PDF is damaged and cannot be read ({exc.__class__.__name__})."
        ) from None
    if count == 0:
        raise ScanError("The PDF has no pages.")
    if count > MAX_PAGES:
        raise ScanError(f"The PDF has {count} pages; the limit is {MAX_PAGES}. Split it.")
    result = ScanText(kind="pdf")
    can_ocr = ocr and ocr_available()
    for number, page in enumerate(reader.pages, start=1):
        try:
            text = page.extract_text() or ""
        except Exception:  # noqa: BLE001 - a damaged content stream: fall back to OCR
            text = ""
        if len(text.strip()) >= MIN_TEXT_LAYER_CHARS:
            result.pages.append(PageText(number, text, "text_layer"))
            continue
        images = _page_images(page)
        if not images:
            result.pages.append(PageText(number, text, "text_layer" if text.strip() else "none"))
            continue
        if not can_ocr:
            result.ocr_missing = result.ocr_missing or not ocr_available()
            result.pages.append(PageText(number, text, "none"))
            continue
        # A scanned page is one full-page image; several strips are read in order.
        parts = [ocr_page(image, number) for image in images]
        joined = "\n".join(p.text for p in parts if p.text.strip())
        weights = [len(p.text) for p in parts]
        conf = (
            sum((p.confidence or 0) * w for p, w in zip(parts, weights, strict=True)) / sum(weights)
            if sum(weights)
            else 0.0
        )
        result.pages.append(PageText(number, joined, "ocr", conf))
    return result


def _page_images(page) -> list:
    try:
        return [item.image for item in page.images if item.image is not None]
    except Exception:  # noqa: BLE001 - unsupported image filters: nothing to OCR
        return []


def ocr_page(image, number: int) -> PageText:
    """OCR one page image; upright it first when Tesseract's orientation check says so."""
    import pytesseract

    image = _prepare(image)
    page = _ocr(image, number)
    if page.confidence is not None and page.confidence >= 70:
        return page
    try:
        osd = pytesseract.image_to_osd(
            image, output_type=pytesseract.Output.DICT, timeout=OCR_TIMEOUT_SECONDS
        )
        rotate = int(osd.get("rotate", 0))
    except (pytesseract.TesseractError, RuntimeError):  # RuntimeError: the timeout
        rotate = 0
    if rotate:
        turned = _ocr(image.rotate(-rotate, expand=True), number)
        if (turned.confidence or 0) > (page.confidence or 0):
            return turned
    return page


def _prepare(image):
    """Greyscale at a DPI Tesseract reads well."""
    image = image.convert("L")
    dpi = image.info.get("dpi", (OCR_DPI, OCR_DPI))[0] or OCR_DPI
    if dpi < 200:
        scale = OCR_DPI / dpi
        image = image.resize((int(image.width * scale), int(image.height * scale)))
    return image


def _ocr(image, number: int) -> PageText:
    import pytesseract

    try:
        data = pytesseract.image_to_data(
            image, output_type=pytesseract.Output.DICT, timeout=OCR_TIMEOUT_SECONDS
        )
    except RuntimeError:  # pytesseract's timeout: nothing read, a person reads the page
        return PageText(number, "", "ocr", 0.0)
    lines: dict[tuple[int, int, int], list[str]] = {}
    confidences: list[tuple[float, int]] = []
    for i, word in enumerate(data["text"]):
        word = (word or "").strip()
        conf = float(data["conf"][i])
        if not word or conf < 0:
            continue
        key = (data["block_num"][i], data["par_num"][i], data["line_num"][i])
        lines.setdefault(key, []).append(word)
        confidences.append((conf, len(word)))
    paragraphs: list[list[str]] = []
    last_par = None
    for key in lines:  # insertion order is reading order
        if key[:2] != last_par:
            paragraphs.append([])
            last_par = key[:2]
        paragraphs[-1].append(" ".join(lines[key]))
    text = "\n\n".join("\n".join(lines_) for lines_ in paragraphs)
    total = sum(n for _, n in confidences)
    mean = sum(c * n for c, n in confidences) / total if total else 0.0
    return PageText(number, text, "ocr", round(mean, 1))
