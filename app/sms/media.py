"""MMS media: fetched from Twilio with the account's credentials, size-limited, stored."""

from __future__ import annotations

import mimetypes
from urllib.parse import urlsplit

import requests
from flask import current_app

from app.cases import attachments
from app.cases.models import Case, Message
from channels.sms.webhook import Media

TWILIO_MEDIA_HOST = "api.twilio.com"
DEFAULT_MAX_BYTES = 5 * 1024 * 1024  # Twilio's own MMS limit
_CHUNK = 64 * 1024


class MediaSkipped(Exception):
    """One media item we could not keep, with a reason a caseworker can read."""


def _source_url(url: str) -> str:
    """Where to fetch a media URL from. Only Twilio's API is asked (our credentials go with
    the request, so never to a host named in a form): https://api.twilio.com, or the
    configured `TWILIO_API_BASE` (a regional edge; a local stand-in in tests), which also
    stands in for api.twilio.com."""
    default = f"https://{TWILIO_MEDIA_HOST}"
    base = (current_app.config.get("TWILIO_API_BASE") or default).rstrip("/")
    if url.startswith(f"{base}/"):
        return url
    parts = urlsplit(url)
    if parts.scheme != "https" or parts.hostname != TWILIO_MEDIA_HOST or not parts.path:
        raise MediaSkipped("not a Twilio media address; not fetched")
    query = f"?{parts.query}" if parts.query else ""
    return f"{base}{parts.path}{query}"


def fetch(item: Media, limit: int) -> tuple[bytes, str]:
    """The media's bytes and content type, or MediaSkipped."""
    config = current_app.config
    sid, token = config.get("TWILIO_ACCOUNT_SID"), config.get("TWILIO_AUTH_TOKEN")
    if not (sid and token):
        raise MediaSkipped("no Twilio credentials configured to fetch it")
    url = _source_url(item.url)
    try:
        with requests.get(url, auth=(sid, token), timeout=10, stream=True) as response:
            if response.status_code != 200:
                raise MediaSkipped(f"Twilio answered HTTP {response.status_code}")
            declared = int(response.headers.get("Content-Length") or 0)
            if declared > limit:
                raise MediaSkipped(f"larger than {limit // 1024} KB ({declared // 1024} KB)")
            data = bytearray()
            for chunk in response.iter_content(_CHUNK):
                data.extend(chunk)
                if len(data) > limit:
                    raise MediaSkipped(f"larger than {limit // 1024} KB")
            content_type = response.headers.get("Content-Type") or item.content_type
    except requests.RequestException as exc:
        raise MediaSkipped(f"could not be fetched ({exc.__class__.__name__})") from None
    return bytes(data), content_type


def store_all(case: Case, message: Message, media: tuple[Media, ...]) -> list[dict]:
    """Fetch and attach each item to the message; returns what could not be kept and why."""
    limit = int(current_app.config.get("SMS_MEDIA_MAX_BYTES") or DEFAULT_MAX_BYTES)
    skipped = []
    for index, item in enumerate(media):
        try:
            data, content_type = fetch(item, limit)
        except MediaSkipped as exc:
            skipped.append({"index": index, "content_type": item.content_type, "reason": str(exc)})
            continue
        ext = mimetypes.guess_extension(content_type.split(";")[0].strip().lower()) or ""
        attachments.store(case, data, f"mms-{index + 1}{ext}", content_type, message=message)
    return skipped
