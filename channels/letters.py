"""Printed letters: a plain-language PDF laid out for a #10 double-window envelope, and the
sender that writes them to the print spool for the mailroom to batch, print and mail."""

from __future__ import annotations

import os
import re
import tempfile
from datetime import date
from pathlib import Path

from channels.senders import OutboundMessage, PermanentFailure, SendResult, TemporaryFailure

# Letter (8.5 x 11 in) positions, in inches, for a #10 double-window envelope when the page
# is tri-folded: the return address shows in the upper window, the recipient in the lower.
PAGE_W, PAGE_H = 8.5, 11.0
LEFT = 0.875
RETURN_TOP = 0.55
RECIPIENT_TOP = 2.05
RECIPIENT_WIDTH = 3.9
BODY_TOP = 3.6
_FONT = "Helvetica"


def _latin1(text: str) -> str:
    """The core PDF fonts are Latin-1: keep accents (Spanish letters), replace the rest."""
    text = text.replace("\u2019", "'").replace("\u2018", "'").replace("\u201c", '"')
    text = text.replace("\u201d", '"').replace("\u2013", "-").replace("\u2014", "-")
    return text.encode("latin-1", "replace").decode("latin-1")


def address_lines(address: str) -> list[str]:
    """Envelope lines from an address written on one line or several
    ("Jane Doe\n12 Elm St, Apt 5, Springfield, IL 62701" → name, street, unit, city line)."""
    lines: list[str] = []
    for line in address.splitlines():
        parts = [p.strip() for p in line.split(",") if p.strip()]
        if len(parts) >= 3 and re.match(r"^[A-Z]{2}\s+\d{5}", parts[-1]):
            lines += [*parts[:-2], f"{parts[-2]}, {parts[-1]}"]
        elif parts:
            lines.append(line.strip())
    return lines


def render_letter(
    *,
    sender_name: str,
    return_address: str,
    to: str,
    body: str,
    reference: str | None,
    subject: str | None,
    on: date,
) -> bytes:
    """One letter as PDF bytes. `to` is the recipient block (name and postal address)."""
    from fpdf import FPDF

    pdf = FPDF(unit="in", format="letter")
    pdf.set_title(_latin1(subject or "Letter"))
    pdf.set_author(_latin1(sender_name))
    pdf.set_margins(LEFT, 0.5, LEFT)
    pdf.set_auto_page_break(True, margin=0.75)
    pdf.add_page()
    pdf.set_xy(LEFT, RETURN_TOP)
    pdf.set_font(_FONT, "B", 12)
    pdf.multi_cell(RECIPIENT_WIDTH, 0.2, _latin1(sender_name), new_x="LMARGIN", new_y="NEXT")
    pdf.set_font(_FONT, "", 10)
    for line in address_lines(return_address):
        pdf.cell(RECIPIENT_WIDTH, 0.17, _latin1(line), new_x="LMARGIN", new_y="NEXT")
    pdf.set_xy(LEFT, RECIPIENT_TOP)
    pdf.set_font(_FONT, "", 11)
    for line in address_lines(to)[:6]:
        pdf.cell(RECIPIENT_WIDTH, 0.19, _latin1(line), new_x="LMARGIN", new_y="NEXT")
    pdf.set_xy(LEFT, BODY_TOP)
    pdf.set_font(_FONT, "", 11)
    pdf.cell(0, 0.2, on.strftime("%B %-d, %Y"), new_x="LMARGIN", new_y="NEXT")
    if reference:
        pdf.set_font(_FONT, "B", 11)
        pdf.cell(0, 0.25, f"Reference: {reference}", new_x="LMARGIN", new_y="NEXT")
    if subject:
        pdf.set_font(_FONT, "B", 11)
        pdf.multi_cell(0, 0.22, _latin1(subject), new_x="LMARGIN", new_y="NEXT")
    pdf.ln(0.15)
    pdf.set_font(_FONT, "", 11)
    pdf.multi_cell(0, 0.2, _latin1(body.strip()), new_x="LMARGIN", new_y="NEXT")
    return bytes(pdf.output())


class LetterSender:
    """The "mail" channel: renders the letter and puts it in the print spool. The mailroom
    batches spooled letters, prints them and marks the batch mailed."""

    channel = "mail"

    def __init__(self, spool_dir: str | Path, return_address: str) -> None:
        self.spool = Path(spool_dir)
        self.return_address = return_address

    def path_for(self, key: str) -> Path:
        safe = re.sub(r"[^A-Za-z0-9_\-]", "_", key) or "letter"
        return self.spool / f"{safe}.pdf"

    def send(self, message: OutboundMessage, *, on: date | None = None) -> SendResult:
        if not message.to.strip():
            raise PermanentFailure("no postal address to print on the envelope")
        to = f"{message.recipient_name}\n{message.to}" if message.recipient_name else message.to
        pdf = render_letter(
            sender_name=message.sender_name or "Redress",
            return_address=self.return_address,
            to=to,
            body=message.body,
            reference=message.reference,
            subject=message.subject,
            on=on or date.today(),
        )
        path = self.path_for(message.key or "letter")
        try:
            self.spool.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(dir=self.spool, prefix=".printing-")
            with os.fdopen(fd, "wb") as handle:
                handle.write(pdf)
            os.replace(tmp, path)
        except OSError as exc:
            raise TemporaryFailure(f"print spool not writable: {exc.__class__.__name__}") from None
        return SendResult(state="sent", provider_ref=f"letter:{path.name}")
