"""Build realistic scans for paper-mail tests: letter text rendered at scanner resolution,
with speckle noise and a slight skew; PDFs with and without a text layer."""

from __future__ import annotations

import io
import random

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
