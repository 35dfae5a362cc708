"""Build realistic scans for paper-mail tests: letter text rendered at scanner resolution,
with speckle noise and a slight skew; PDFs with and without a text layer."""

from __future__ import annotations

import io
import json
import random
import struct
import zlib
from pathlib import Path

from PIL import Image, ImageDraw, ImageFont

DPI = 300


def render_page(
    text: str,
    *,
    dpi: int = DPI,
    noise: float = 0.002,
    skew: float = 0.8,
    seed: int = 7,
    size: tuple[float, float] = (8.5, 5.5),
) -> Image.Image:
    """A page (default half a letter sheet, to keep OCR quick) with the text typed on it."""
    rng = random.Random(seed)
    width, height = int(size[0] * dpi), int(size[1] * dpi)
    page = Image.new("L", (width, height), 255)
    draw = ImageDraw.Draw(page)
    font = ImageFont.load_default(size=int(dpi * 12 / 72))  # 12-point type
    y = int(0.6 * dpi)
    for line in text.splitlines():
        draw.text((int(0.9 * dpi), y), line, fill=20, font=font)
        y += int(dpi * 12 / 72 * 1.45)
    pixels = page.load()
    for _ in range(int(width * height * noise)):  # dust and toner speckle
        pixels[rng.randrange(width), rng.randrange(height)] = rng.choice((0, 90, 160))
    page = page.rotate(skew, resample=Image.BICUBIC, expand=False, fillcolor=255)
    page.info["dpi"] = (dpi, dpi)
    return page


def drop_files(folder: Path, files: dict[str, bytes], manifest: dict | None = None) -> None:
    """Files put in a mailroom drop folder, with the batch manifest when one is given."""
    folder.mkdir(exist_ok=True)
    for name, data in files.items():
        (folder / name).write_bytes(data)
    if manifest is not None:
        (folder / "manifest.json").write_text(json.dumps(manifest))


def image_bytes(page: Image.Image, kind: str = "PNG") -> bytes:
    buffer = io.BytesIO()
    page.save(buffer, kind, dpi=(DPI, DPI))
    return buffer.getvalue()


def multipage_tiff(pages: list[Image.Image]) -> bytes:
    buffer = io.BytesIO()
    pages[0].save(buffer, "TIFF", save_all=True, append_images=pages[1:], dpi=(DPI, DPI))
    return buffer.getvalue()


def image_only_pdf(pages: list[Image.Image]) -> bytes:
    """What a scanner without OCR produces: each page one picture, no text layer."""
    buffer = io.BytesIO()
    rgb = [p.convert("RGB") for p in pages]
    rgb[0].save(buffer, "PDF", resolution=DPI, save_all=True, append_images=rgb[1:])
    return buffer.getvalue()


def text_pdf(text: str, *, pages: int = 1, password: str | None = None) -> bytes:
    """A PDF with a real text layer (a letter typed and saved as PDF, or an OCR'd scan)."""
    from fpdf import FPDF

    pdf = FPDF(unit="in", format="letter")
    if password:
        pdf.set_encryption(owner_password="owner", user_password=password)
    pdf.set_font("Helvetica", size=12)
    for _ in range(pages):
        pdf.add_page()
        pdf.multi_cell(0, 0.22, text)
    return bytes(pdf.output())


# --- Scans as fax servers and copiers write them, and files built to hurt a reader ---------
# A minimal PDF writer: each page one image XObject drawn over the page box, nothing else, so
# a test controls exactly what a reader meets (the filter, the declared size, the page box).


def _pdf(objects: list[bytes]) -> bytes:
    out = io.BytesIO()
    out.write(b"%PDF-1.4\n")
    offsets = []
    for number, body in enumerate(objects, start=1):
        offsets.append(out.tell())
        out.write(b"%d 0 obj\n%s\nendobj\n" % (number, body))
    xref = out.tell()
    out.write(b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1))
    out.writelines(b"%010d 00000 n \n" % offset for offset in offsets)
    out.write(b"trailer\n<< /Size %d /Root 1 0 R >>\n" % (len(objects) + 1))
    out.write(b"startxref\n%d\n%%%%EOF\n" % xref)
    return out.getvalue()


def _stream(dictionary: bytes, data: bytes) -> bytes:
    return b"<< %s /Length %d >>\nstream\n%s\nendstream" % (dictionary, len(data), data)


def bilevel_image_pdf(
    width: int,
    height: int,
    data: bytes,
    filter_: bytes,
    parms: bytes = b"null",
    box: tuple[int, int] = (612, 792),
) -> bytes:
    """One page (MediaBox `box`, in points) showing one 1-bit image stored as `filter_`."""
    content = b"q %d 0 0 %d 0 0 cm /Im0 Do Q" % box
    image = (
        b"/Type /XObject /Subtype /Image /Width %d /Height %d /ColorSpace /DeviceGray"
        b" /BitsPerComponent 1 /Filter %s /DecodeParms %s" % (width, height, filter_, parms)
    )
    return _pdf(
        [
            b"<< /Type /Catalog /Pages 2 0 R >>",
            b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
            b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 %d %d]"
            b" /Resources << /XObject << /Im0 4 0 R >> >> /Contents 5 0 R >>" % box,
            _stream(image, data),
            _stream(b"", content),
        ]
    )


def bilevel(page: Image.Image) -> Image.Image:
    """A greyscale page as a fax machine sends it: black and white, no greys."""
    return page.point(lambda v: 255 if v > 140 else 0).convert("1")


def g4_data(page: Image.Image) -> bytes:
    """The CCITT Group 4 (ITU-T T.6) coding of a bilevel page, as one strip (libtiff's coder
    through Pillow). T.6 codes runs of white first; Pillow's TIFF calls black 0, so the page
    is inverted first to make the coded white the page's white."""
    inverted = page.convert("L").point(lambda v: 255 - v).convert("1")
    buffer = io.BytesIO()
    inverted.save(buffer, "TIFF", compression="group4", tiffinfo={278: page.height})
    tiff = Image.open(io.BytesIO(buffer.getvalue()))
    (offset,), (length,) = tiff.tag_v2[273], tiff.tag_v2[279]
    return buffer.getvalue()[offset : offset + length]


def white_g4_data(height: int) -> bytes:
    """T.6 for an all-white page of any width: each row is one vertical-mode V0 code (bit 1),
    so a page of 990,000 rows is 124 kB. The decompression bomb's raw material."""
    return b"\xff" * -(-height // 8)


def fax_pdf(page: Image.Image, *, box: tuple[int, int] = (612, 792)) -> bytes:
    """What a fax server stores: the received page as a CCITT G4 image in a PDF. The PDF has
    no resolution for the image (pypdf's decoded picture says dpi (1, 1))."""
    page = bilevel(page)
    parms = b"<< /K -1 /Columns %d /Rows %d >>" % page.size
    return bilevel_image_pdf(*page.size, g4_data(page), b"/CCITTFaxDecode", parms, box)


def fax_bomb_pdf(width: int, height: int) -> bytes:
    """A tiny PDF declaring a huge all-white fax page (765,000 x 990,000 is 757 gigapixels)."""
    parms = b"<< /K -1 /Columns %d /Rows %d >>" % (width, height)
    return bilevel_image_pdf(width, height, white_g4_data(height), b"/CCITTFaxDecode", parms)


def _jbig2_segment(number: int, kind: int, data: bytes) -> bytes:
    # Segment header (ITU-T T.88 7.2): number, flags (type; 1-byte page association), no
    # referred-to segments, page 1, data length.
    return struct.pack(">IBBBI", number, kind, 0, 1, len(data)) + data


def jbig2_data(page: Image.Image) -> bytes:
    """A JBIG2 stream as PDFs embed it (T.88 Annex D.3, no file header): a page information
    segment (type 48), one immediate lossless generic region (type 39) coded with MMR, which
    is T.6, the same coding as CCITT G4, and the end of the page (type 49). What copiers'
    "high compression" PDF mode writes, reduced to the simplest region a decoder must read."""
    page = bilevel(page)
    width, height = page.size
    info = struct.pack(">IIIIBH", width, height, 0, 0, 0, 0)
    region = struct.pack(">IIIIB", width, height, 0, 0, 0) + b"\x01" + g4_data(page)
    return (
        _jbig2_segment(0, 48, info) + _jbig2_segment(1, 39, region) + _jbig2_segment(2, 49, b"")
    )


def jbig2_pdf(page: Image.Image) -> bytes:
    page = bilevel(page)
    return bilevel_image_pdf(*page.size, jbig2_data(page), b"/JBIG2Decode")


def png_bomb(width: int, height: int) -> bytes:
    """A PNG of a blank greyscale page of `width` x `height` pixels: zlib squeezes the rows of
    zeros about a thousand to one, so 100 megapixels fit in 100 kB."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        crc = struct.pack(">I", zlib.crc32(kind + data))
        return struct.pack(">I", len(data)) + kind + data + crc

    packer = zlib.compressobj(9)
    row = b"\x00" * (width + 1)  # filter byte 0, then the row
    body = b"".join(packer.compress(row) for _ in range(height)) + packer.flush()
    header = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    png = chunk(b"IHDR", header) + chunk(b"IDAT", body) + chunk(b"IEND", b"")
    return b"\x89PNG\r\n\x1a\n" + png
