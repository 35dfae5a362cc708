"""Text from a scanned letter: a PDF's text layer where it has one, Tesseract OCR otherwise.

Every failure a mailroom clerk can act on is a ScanError with a plain reason. A tool that is
not installed (Tesseract, jbig2dec) is not an error: those pages come back unread, with the
reason in `problems` (or `ocr_missing`), and the letter waits for a person to read it.

No page is decoded before its declared size is checked against `max_pixels`, and no page is
enlarged past reason: a fax's missing resolution once read as 1 dpi and scaled a page x300.
This module still trusts the decoders; `sandbox` runs it in a child with a memory limit.
"""

from __future__ import annotations

import contextlib
import io
import math
import os
import shutil
import warnings
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field

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
# The most pixels one page may hold, checked before decoding: a letter or legal page at
# 600 dpi (SCAN_MAX_PIXELS overrides it).
MAX_PIXELS = 50_000_000
# A resolution outside this range is a missing or wrong value, not a scanner's: treated as
# unknown (CCITT fax images in PDFs and TIFFs without resolution tags say 1 dpi).
PLAUSIBLE_DPI = (70, 1200)
# Enlarging a low-resolution page for OCR stops here (a legal page at 300 dpi is 10.7 M).
UPSCALE_MAX_PIXELS = 12_000_000


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
    # Why pages were left unread, for the reviewer ("Page 2 is a JBIG2 image and ...").
    problems: list[str] = field(default_factory=list)

    def as_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict) -> ScanText:
        pages = [PageText(**page) for page in data["pages"]]
        return cls(data["kind"], pages, data["ocr_missing"], list(data["problems"]))

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


def jbig2dec_path() -> str | None:
    """Debian's jbig2dec, which pypdf runs to decode JBIG2 images (copiers' compact PDFs)."""
    return shutil.which(os.environ.get("JBIG2DEC_CMD", "jbig2dec"))


def extract(data: bytes, *, ocr: bool = True, max_pixels: int = MAX_PIXELS) -> ScanText:
    """All the text of a scan, page by page. Raises ScanError for what cannot be read."""
    if not data:
        raise ScanError("The file is empty (0 bytes); scan the letter again.")
    if len(data) > MAX_BYTES:
        raise ScanError(f"The file is larger than {MAX_BYTES // (1024 * 1024)} MB; split the scan.")
    kind = sniff(data)
    if kind is None:
        raise ScanError("This is not a PDF, PNG, TIFF or JPEG file; scan to one of those types.")
    if kind == "pdf":
        return _from_pdf(data, ocr=ocr, max_pixels=max_pixels)
    return _from_image(data, kind, ocr=ocr, max_pixels=max_pixels)


def _check_pixels(width: int, height: int, max_pixels: int, where: str) -> None:
    if width * height > max_pixels:
        raise ScanError(
            f"{where} is an image of {width:,} x {height:,} pixels "
            f"({width * height / 1e6:,.0f} million pixels); the limit is "
            f"{max_pixels / 1e6:,.0f} million. Scan the letter again at 300 dpi."
        )


def _images(data: bytes, max_pixels: int) -> Iterator:
    """Each page of an image file, decoded only after its size is checked."""
    from PIL import Image, UnidentifiedImageError

    try:
        with warnings.catch_warnings():  # Pillow's bomb warning: the size is checked below
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            image = Image.open(io.BytesIO(data))  # reads the header, not the pixels
            frames = getattr(image, "n_frames", 1)
    except Image.DecompressionBombError:
        raise ScanError(
            f"The image is larger than {max_pixels / 1e6:,.0f} million pixels; "
            "scan the letter again at 300 dpi."
        ) from None
    except (UnidentifiedImageError, OSError, ValueError) as exc:
        raise ScanError(
            f"The image file is damaged and cannot be opened ({exc.__class__.__name__})."
        ) from None
    if frames > MAX_PAGES:
        raise ScanError(f"The scan has {frames} pages; the limit is {MAX_PAGES}. Split it.")
    for index in range(frames):
        try:
            image.seek(index)
            _check_pixels(*image.size, max_pixels, f"Page {index + 1}")
            image.load()
        except (OSError, ValueError, EOFError) as exc:
            raise ScanError(
                f"Page {index + 1} of the image is damaged ({exc.__class__.__name__})."
            ) from None
        yield image


def _from_image(data: bytes, kind: str, *, ocr: bool, max_pixels: int) -> ScanText:
    result = ScanText(kind=kind)
    can_ocr = ocr and ocr_available()
    for number, image in enumerate(_images(data, max_pixels), start=1):
        # One page in memory at a time: a 40-page TIFF is read page by page.
        result.pages.append(ocr_page(image, number) if can_ocr else PageText(number, "", "none"))
    result.ocr_missing = not ocr_available()
    return result


@contextlib.contextmanager
def _pdf_limits(max_pixels: int):
    """pypdf's own decoding limits, sized to our pixel cap (its defaults would refuse a
    600-dpi colour page), and the jbig2dec it should run."""
    from pypdf import apply_configuration

    budget = max(75_000_000, 4 * max_pixels)  # bytes: four per pixel (RGBA, CMYK)
    with apply_configuration(
        jbig2dec_binary=jbig2dec_path(),
        image_maximum_buffer_size=budget,
        zlib_maximum_output_length=budget,
        lzw_maximum_output_length=budget,
        run_length_maximum_output_length=budget,
        jbig2_maximum_output_length=budget,
        stream_decoding_work_maximum_length=max(300_000_000, 2 * budget),
    ):
        yield


def _from_pdf(data: bytes, *, ocr: bool, max_pixels: int) -> ScanText:
    with _pdf_limits(max_pixels):
        return _read_pdf(data, ocr=ocr, max_pixels=max_pixels)


def _read_pdf(data: bytes, *, ocr: bool, max_pixels: int) -> ScanText:
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
        images, problem = _page_images(page, number, max_pixels)
        if problem:
            result.problems.append(problem)
            result.pages.append(PageText(number, text, "none"))
            continue
        if not images:
            result.pages.append(PageText(number, text, "text_layer" if text.strip() else "none"))
            continue
        if not can_ocr:
            result.ocr_missing = result.ocr_missing or not ocr_available()
            result.pages.append(PageText(number, text, "none"))
            continue
        # A scanned page is one full-page image; several strips are read in order.
        parts = [ocr_page(_with_dpi(image, page), number) for image in images]
        joined = "\n".join(p.text for p in parts if p.text.strip())
        weights = [len(p.text) for p in parts]
        conf = (
            sum((p.confidence or 0) * w for p, w in zip(parts, weights, strict=True)) / sum(weights)
            if sum(weights)
            else 0.0
        )
        result.pages.append(PageText(number, joined, "ocr", conf))
    return result


def _declared_images(owner, depth: int = 0, seen: set | None = None) -> Iterator[tuple]:
    """(width, height, filters) of each image a page (or a form on it) declares, read from
    the dictionaries without decoding anything."""
    seen = set() if seen is None else seen
    resources = owner.get("/Resources")
    resources = resources.get_object() if resources is not None else None
    xobjects = resources.get("/XObject") if hasattr(resources, "get") else None
    xobjects = xobjects.get_object() if xobjects is not None else None
    if not hasattr(xobjects, "items") or depth > 8:
        return
    for _name, ref in xobjects.items():
        obj = ref.get_object()
        if id(obj) in seen or not hasattr(obj, "get"):
            continue
        seen.add(id(obj))
        if obj.get("/Subtype") == "/Image":
            filters = obj.get("/Filter")
            filters = filters.get_object() if filters is not None else []
            names = [str(f) for f in filters] if isinstance(filters, list) else [str(filters)]
            yield int(obj.get("/Width", 0)), int(obj.get("/Height", 0)), names
        elif obj.get("/Subtype") == "/Form":
            yield from _declared_images(obj, depth + 1, seen)


def _page_images(page, number: int, max_pixels: int) -> tuple[list, str | None]:
    """The page's images, decoded only after their declared size is checked. A page that
    cannot be decoded comes back with the reason (for the reviewer), never as "no text"."""
    from PIL.Image import DecompressionBombError
    from pypdf.errors import DependencyError, LimitReachedError

    where = f"Page {number}"
    try:
        declared = list(_declared_images(page))
    except (TypeError, ValueError, AttributeError) as exc:
        raise ScanError(f"{where} of the PDF is damaged ({exc.__class__.__name__}).") from None
    for width, height, _filters in declared:
        _check_pixels(width, height, max_pixels, where)
    total = sum(w * h for w, h, _ in declared)
    if total > max_pixels:
        raise ScanError(
            f"{where} holds {len(declared)} images of {total / 1e6:,.0f} million pixels in all; "
            f"the limit is {max_pixels / 1e6:,.0f} million. Scan the letter again at 300 dpi."
        )
    if any("/JBIG2Decode" in filters for _, _, filters in declared) and not jbig2dec_path():
        return [], (
            f"{where} is a JBIG2 image and jbig2dec is not installed on this server, "
            "so nobody has read it yet."
        )
    try:
        images = [item.image for item in page.images if item.image is not None]
    except (LimitReachedError, DecompressionBombError):
        raise ScanError(
            f"{where} holds an image too large to decode; scan the letter again at 300 dpi."
        ) from None
    except DependencyError as exc:
        return [], f"{where} could not be decoded on this server ({exc}); open the scan to read it."
    except MemoryError:
        raise
    except Exception as exc:  # noqa: BLE001 - pypdf and Pillow raise many kinds here
        name = exc.__class__.__name__
        return [], f"{where}'s image could not be decoded ({name}); open the scan to read it."
    for image in images:  # inline images have no dictionary to check beforehand
        _check_pixels(*image.size, max_pixels, where)
    return images, None


def _plausible_dpi(value) -> float | None:
    try:
        dpi = float(value[0] if isinstance(value, tuple | list) else value)
    except (TypeError, ValueError, IndexError, ZeroDivisionError):
        return None
    low, high = PLAUSIBLE_DPI
    return dpi if low <= dpi <= high else None


def _with_dpi(image, page):
    """A PDF image's resolution from the page it fills when its own is missing or silly."""
    if _plausible_dpi(image.info.get("dpi")):
        return image
    try:
        inches = float(page.mediabox.width) / 72
        dpi = _plausible_dpi(image.width / inches)
    except (ValueError, ZeroDivisionError, TypeError):
        dpi = None
    image.info["dpi"] = (dpi, dpi) if dpi else (0, 0)  # 0: unknown, read as it is
    return image


def ocr_page(image, number: int) -> PageText:
    """OCR one page image; upright it first when Tesseract's orientation check says so."""
    import pytesseract

    image = prepare_for_ocr(image)
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


def prepare_for_ocr(image):
    """Greyscale, a low-resolution scan enlarged towards 300 dpi (Tesseract reads that best).
    An unknown or implausible resolution leaves the page as it is, and enlarging stops at
    UPSCALE_MAX_PIXELS, so no metadata can make a page huge."""
    dpi = _plausible_dpi(image.info.get("dpi"))
    image = image.convert("L")
    if dpi and dpi < 200:
        room = math.sqrt(UPSCALE_MAX_PIXELS / max(image.width * image.height, 1))
        scale = min(OCR_DPI / dpi, room)
        if scale > 1.05:
            image = image.resize((round(image.width * scale), round(image.height * scale)))
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
