"""HTML email bodies to plain text: sanitized with nh3 first (no script, style or remote
content survives), then flattened to text with paragraphs and quoting kept."""

from __future__ import annotations

import html as htmllib
import re
from html.parser import HTMLParser

import nh3

_KEPT_TAGS = {
    "a", "b", "blockquote", "br", "div", "em", "font", "h1", "h2", "h3", "h4", "h5", "h6",
    "hr", "i", "li", "ol", "p", "pre", "span", "strong", "table", "td", "th", "tr", "u", "ul",
}  # fmt: skip
_BLOCK = {
    "p", "div", "br", "tr", "li", "h1", "h2", "h3", "h4", "h5", "h6", "hr", "pre", "table",
    "blockquote", "ul", "ol",
}  # fmt: skip
# Markers of quoted history that mail programs put in HTML (Gmail, Outlook, Thunderbird,
# Yahoo, Apple Mail): everything from the marked element on is the quoted thread.
_QUOTE_MARKERS = re.compile(
    r"gmail_quote|yahoo_quoted|moz-cite-prefix|divRplyFwdMsg|OLK_SRC_BODY_SECTION|"
    r"AppleOriginalContents|ms-outlook-mobile-reference-message|x_divRplyFwdMsg",
)
QUOTE_LINE = "\u2063----- quoted history -----"  # invisible separator + a readable marker


def sanitize(html: str) -> str:
    """Only harmless formatting tags, no attributes but class/id (for quote detection)."""
    return nh3.clean(
        html,
        tags=_KEPT_TAGS,
        attributes={"*": {"class", "id"}, "a": {"href"}},
        clean_content_tags={"script", "style", "head", "title"},
        link_rel=None,
        strip_comments=True,
    )


class _Text(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.out: list[str] = []
        self.quote_depth = 0
        self.pre = 0
        self.marked = False

    def handle_starttag(self, tag, attrs):
        attributes = dict(attrs)
        marker = f"{attributes.get('class') or ''} {attributes.get('id') or ''}"
        if not self.marked and _QUOTE_MARKERS.search(marker):
            self.marked = True
            self.out.append(f"\n{QUOTE_LINE}\n")
        if tag == "blockquote":
            self.quote_depth += 1
        if tag == "pre":
            self.pre += 1
        if tag == "hr":
            self.out.append("\n________________________________\n")
        elif tag in _BLOCK:
            self.out.append("\n")
        if tag == "li":
            self.out.append("- ")

    def handle_endtag(self, tag):
        if tag == "blockquote" and self.quote_depth:
            self.quote_depth -= 1
        if tag == "pre" and self.pre:
            self.pre -= 1
        if tag in _BLOCK:
            self.out.append("\n")
        if tag in ("td", "th"):
            self.out.append(" ")

    def handle_data(self, data):
        if not self.pre:
            data = re.sub(r"\s+", " ", data)
        if self.quote_depth:
            data = data.replace("\n", "\n" + "> " * self.quote_depth)
            if not self.out or self.out[-1].endswith("\n"):
                data = "> " * self.quote_depth + data.lstrip()
        self.out.append(data)


def html_to_text(html: str) -> str:
    parser = _Text()
    parser.feed(sanitize(html))
    parser.close()
    text = htmllib.unescape("".join(parser.out)).replace("\xa0", " ")
    lines = [line.rstrip() for line in text.splitlines()]
    text = "\n".join(line if line.strip(" >") else line.strip() for line in lines)
    return re.sub(r"\n{3,}", "\n\n", text).strip()


def text_to_html(text: str) -> str:
    """The HTML alternative of an outbound plain-text email: escaped, paragraphs, links."""
    paragraphs = re.split(r"\n\s*\n", text.strip())
    out = []
    for paragraph in paragraphs:
        escaped = htmllib.escape(paragraph)
        escaped = re.sub(r"(https?://[^\s<]+)", r'<a href="\1">\1</a>', escaped)
        out.append("<p>" + escaped.replace("\n", "<br>\n") + "</p>")
    body = "\n".join(out)
    return (
        '<!DOCTYPE html>\n<html><head><meta charset="utf-8"></head>\n'
        f'<body style="font-family: sans-serif; line-height: 1.4">\n{body}\n</body></html>\n'
    )
