"""What kind of message is this: a person writing to us, an automatic reply, a bounce?

Automatic replies and bounces must never open a case or get an acknowledgment (that is how
mail loops start); a bounce tells us a customer's address is dead.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from channels.email.parse import ParsedEmail

# Out-of-office and auto-reply subjects in the languages our customers and their mail
# servers use. Matched at the start of the subject (after any "Re:"/"AW:" prefixes).
_AUTO_SUBJECT = re.compile(
    r"^\s*(?:(?:re|aw|sv|vs|antw|r|rif|tr|fw|fwd)\s*:\s*)*(?:"
    r"out of (?:the )?office|automatic reply|auto[- ]?reply|auto[- ]?response|autoreply|"
    r"automated response|away from (?:the |my )?office|on vacation|vacation reply|"
    r"abwesenheitsnotiz|automatische antwort|abwesend|"
    r"r[ée]ponse automatique|absence du bureau|absent du bureau|"
    r"respuesta autom[áa]tica|fuera de (?:la )?oficina|"
    r"risposta automatica|fuori ufficio|fuori sede|"
    r"resposta autom[áa]tica|aus[êe]ncia|fora do escrit[óo]rio|"
    r"automatisch antwoord|afwezig|niet aanwezig|"
    r"automatyczna odpowied[źz]|autosvar|automaattinen vastaus|"
    r"不在|自動応答|自動返信|自动回复|自動回覆|자동 응답|부재"
    r")",
    re.IGNORECASE,
)
_BOUNCE_SUBJECT = re.compile(
    r"undeliver|undelivered mail|delivery status notification \(failure\)|"
    r"delivery (?:status )?notification|delivery failure|delivery failed|failure notice|"
    r"returned mail|mail delivery (?:failed|system|subsystem)|could not be delivered|"
    r"non[- ]?deliver|not delivered|delivery has failed|message not delivered|"
    r"rejected|returned to sender|unzustellbar|non remis|no se puede entregar|"
    r"mail system error|delivery problem|permanent error|warning: could not send|"
    r"error sending your mail|failed delivery|failure delivery|mail failed|"
    r"メールエラー|配信できません|送信できません|届きませんでした|不達|未達|エラーメッセージ",
    re.IGNORECASE,
)
# What a delivery failure says in its first lines (an SMTP 5xx reply, an enhanced status code,
# the usual words): with a daemon's address, enough to call it a bounce. A postmaster's address
# alone is not: people write from postmaster@ too.
_BOUNCE_TEXT = re.compile(
    r"\b5[0-9][0-9][ -]|\b5\.[0-9]\.[0-9]{1,3}\b|invalid (?:user|recipient|address)|"
    r"user unknown|unknown user|no such (?:user|mailbox|recipient)|mailbox (?:is )?(?:full|"
    r"unavailable|not found|does not exist)|could not be delivered|undeliverable|"
    r"delivery (?:has )?failed|permanent (?:error|failure)",
    re.IGNORECASE,
)
# A "still trying" warning: the address may yet work, so it is not marked undeliverable.
_DELAY_SUBJECT = re.compile(
    r"delayed|still being retried|could not send (?:mail|message) for past|"
    r"delivery status notification \(delay\)|warning: message .* delayed|"
    r"delivery delayed|not yet been delivered",
    re.IGNORECASE,
)
# Addresses of mailing-list machinery (RFC 3834 section 2: never answer them).
_LIST_MACHINERY = re.compile(r"^(?:owner-.+|.+-(?:request|admin|owner|bounces?))@", re.IGNORECASE)
# RFC 2369 / RFC 2919 list headers, and headers only mass-mailing services add (a feedback-loop
# id, bulk-sender certification): newsletters, announcements, marketing.
_LIST_HEADERS = (
    "list-id", "list-unsubscribe", "list-unsubscribe-post", "list-post", "list-help",
    "list-subscribe", "list-owner", "list-archive",
)  # fmt: skip
_BULK_HEADERS = ("feedback-id", "x-csa-complaints", "x-report-abuse", "x-mailchimp-campaign")
_NO_REPLY = re.compile(r"^(?:no[-_.]?reply|do[-_.]?not[-_.]?reply)(?:[-+_.][^@]{0,60})?@", re.I)
_DAEMON = re.compile(
    r"^(?:mailer[-_]?daemon|post_?master|mail[-_]?delivery[-_]?(?:system|subsystem)?|"
    r"mdaemon|bounces?|nobody|root|mail|msexch|microsoftexchange[0-9a-f]*|noreply-dmarc)"
    r"(?:@|$)",
    re.IGNORECASE,
)
# Linear on any text: a match may start only where a run of address characters starts (the
# look-behind), and nothing backtracks (possessive quantifiers), so a 100 KB run of letters,
# dots or dashes is read once, not once per position.
_ADDRESS = re.compile(
    r"(?<![A-Za-z0-9._%+'=-])[A-Za-z0-9._%+'=-]{1,64}+@[A-Za-z0-9-]{1,63}+(?:\.[A-Za-z0-9-]{1,63}+)++"
)
_FAILED_LINE = re.compile(
    r"(?:final-recipient|original-recipient|x-failed-recipients|failed recipient|"
    r"recipient address|to:)\s*+(?:rfc822\s*+;)?\s*+<?(" + _ADDRESS.pattern + ")",
    re.IGNORECASE,
)
# Where the returned original message starts in a bounce's text (its addresses are not the
# failed ones): a dashed line naming it, or a line that opens it.
_RETURNED_PHRASES = ("original message", "returned message", "below this line", "headers of")
_RETURNED_OPENERS = ("original message", "content-type: message/rfc822")


@dataclass
class Classification:
    kind: str  # message | auto_reply | bounce | feedback_report
    reason: str = ""
    failed_recipients: list[str] = field(default_factory=list)
    delayed: bool = False  # a "still trying" notice, not a failure

    @property
    def is_message(self) -> bool:
        return self.kind == "message"


def classify(mail: ParsedEmail, *, own_addresses: tuple[str, ...] = ()) -> Classification:
    """Bounce first (bounces often carry Auto-Submitted too), then automatic replies."""
    bounce = _bounce(mail, own_addresses)
    if bounce is not None:
        return bounce
    auto = _auto_reply_reason(mail)
    if auto:
        return Classification("auto_reply", auto)
    return Classification("message")


def _report_type(mail: ParsedEmail) -> str:
    ctype = mail.headers.get("content-type", "").lower()
    if not ctype.startswith("multipart/report"):
        return ""
    match = re.search(r'report-type\s*=\s*"?([\w-]+)', ctype)
    return match.group(1) if match else "unknown"


def _bounce(mail: ParsedEmail, own: tuple[str, ...]) -> Classification | None:
    report = _report_type(mail)
    if report == "feedback-report" or "feedback-type" in mail.headers:
        return Classification("feedback_report", "abuse feedback report (ARF), not a complaint")
    if report in ("disposition-notification",):
        return Classification("auto_reply", "read receipt (message disposition notification)")
    if re.match(r"\s*complaint about message from", mail.subject, re.IGNORECASE):
        return Classification("feedback_report", "abuse complaint about a message, not a case")
    ses = _ses_notification(mail)
    if ses is not None:
        return ses
    sender = (mail.from_address or "").lower()
    local = sender.split("@")[0]
    null_sender = mail.headers.get("return-path", "x").strip() in ("<>", "", "<MAILER-DAEMON>")
    subject = mail.subject
    from_header = mail.headers.get("from", "")
    mailer_daemon = bool(re.search(r"mailer[-_ ]?daemon", f"{sender} {from_header}", re.I))
    postmaster = bool(_DAEMON.match(sender)) or bool(
        re.search(r"mail delivery (?:system|subsystem)", from_header, re.I)
    )
    dsn = report == "delivery-status" or bool(mail.delivery_status)
    # The returned original (message/rfc822 or its headers) travels with most bounces.
    returned = any(
        p.content_type in ("message/rfc822", "text/rfc822-headers", "message/global")
        for p in mail.attachments
    )
    looks = (
        dsn
        or mailer_daemon
        or "x-failed-recipients" in mail.headers
        or (postmaster and (_BOUNCE_SUBJECT.search(subject) or null_sender or not subject))
        or (postmaster and _BOUNCE_TEXT.search(mail.text[:3000]))
        or (null_sender and "return-path" in mail.headers and _BOUNCE_SUBJECT.search(subject))
        or (_BOUNCE_SUBJECT.search(subject) and local in ("postmaster", "mailer-daemon"))
        or (null_sender and returned)
        or (_BOUNCE_SUBJECT.search(subject) and (returned or re.match(r"no-?reply", local)))
    )
    if not looks:
        return None
    if _DELAY_SUBJECT.search(subject) and not (dsn and _any_failed(mail)):
        return Classification(
            "bounce", "delivery delayed notice (the server is still trying)", delayed=True
        )
    recipients, delayed = _failed_recipients(mail, own)
    if dsn and not recipients and delayed:
        return Classification("bounce", "delivery delayed notice (the server is still trying)",
                              delayed=True)  # fmt: skip
    if recipients:
        reason = "bounce: delivery to " + ", ".join(r for r in recipients[:5]) + " failed"
    else:
        reason = "bounce: no failed recipient could be read from it"
    return Classification("bounce", reason, recipients)


def _any_failed(mail: ParsedEmail) -> bool:
    return any(b.get("action", "").lower().startswith("failed") for b in mail.delivery_status)


def _ses_notification(mail: ParsedEmail) -> Classification | None:
    """Amazon SES bounce, complaint and delivery notifications relayed by SNS (JSON)."""
    text = mail.text.replace('\\"', '"')  # the SNS envelope escapes the SES JSON
    if '"notificationType"' not in text:
        return None
    found = re.search(r'"notificationType"\s*:\s*"(\w+)"', text)
    kind = found.group(1).lower() if found else ""
    if kind == "bounce":
        addresses = re.findall(r'"emailAddress"\s*+:\s*+"([^"@]{1,64}+@[^"@]{1,255}+)"', text)
        recipients = list(dict.fromkeys(a.lower() for a in addresses))
        return Classification(
            "bounce", "bounce: Amazon SES notification for " + ", ".join(recipients[:5]), recipients
        )
    if kind == "complaint":
        return Classification("feedback_report", "Amazon SES complaint notification")
    return Classification("auto_reply", f"Amazon SES {kind or 'status'} notification")


def _failed_recipients(mail: ParsedEmail, own: tuple[str, ...]) -> tuple[list[str], bool]:
    skip = {a.lower() for a in own} | {(mail.from_address or "").lower()}
    found: list[str] = []
    delayed = False

    def add(addr: str) -> None:
        addr = addr.strip().strip("<>;,.").lower()
        if addr and addr not in skip and addr not in found and not _DAEMON.match(addr):
            found.append(addr)

    for block in mail.delivery_status:
        action = block.get("action", "").lower()
        recipient = block.get("final-recipient") or block.get("original-recipient")
        if not recipient:
            continue
        if action.startswith(("delayed", "relayed", "delivered", "expanded")):
            delayed = delayed or action.startswith("delayed")
            continue
        match = _ADDRESS.search(recipient)
        if match:
            add(match.group(0))
    if found:
        return found, delayed
    if any("final-recipient" in b or "original-recipient" in b for b in mail.delivery_status):
        return found, delayed
    for addr in _ADDRESS.findall(mail.headers.get("x-failed-recipients", "")):
        add(addr)
    if found:
        return found, delayed
    head = _before_returned(mail.text)
    for match in _FAILED_LINE.finditer(head):
        add(match.group(1))
    if not found:
        for addr in _ADDRESS.findall(head):
            add(addr)
            if len(found) >= 5:
                break
    return found, delayed


def _before_returned(text: str) -> str:
    """The bounce's own words: its text up to the returned original message."""
    offset = 0
    for line in text.splitlines(keepends=True):
        low = line.lower()
        if low.startswith("--") and any(p in low for p in _RETURNED_PHRASES):
            return text[:offset]
        if low.startswith("-") and low.lstrip("-").lstrip(" ").startswith(
            "this is a copy of the message"
        ):
            return text[:offset]
        if low.startswith(_RETURNED_OPENERS):
            return text[:offset]
        offset += len(line)
    return text


def _auto_reply_reason(mail: ParsedEmail) -> str | None:
    h = mail.headers
    auto = h.get("auto-submitted", "").strip().lower()
    if auto and not auto.startswith("no"):
        return f"automatic reply (Auto-Submitted: {auto.split(';')[0]})"
    precedence = h.get("precedence", "").strip().lower()
    if precedence in ("bulk", "junk", "list", "auto_reply"):
        return f"automatic or bulk mail (Precedence: {precedence})"
    for name in (
        "x-autoreply",
        "x-autorespond",
        "x-autoresponder",
        "x-auto-response-suppress",
        "x-mail-autoreply",
        "x-autogenerated",
        "x-ms-exchange-inbox-rules-loop",
    ):
        if name in h:
            return f"automatic reply ({name}: {h[name][:40]})"
    if h.get("x-autogenerated", "").lower() == "reply":
        return "automatic reply (X-AutoGenerated)"
    if _LIST_MACHINERY.match(mail.from_address or ""):
        return "mail from mailing-list machinery (an -admin, -request or owner- address)"
    if _AUTO_SUBJECT.search(mail.subject):
        return f"automatic reply (subject: {mail.subject[:60]})"
    listed = next((name for name in _LIST_HEADERS if name in h), None)
    if listed:
        return f"mailing-list or bulk mail ({listed})"
    bulk = next((name for name in _BULK_HEADERS if name in h), None)
    if bulk:
        return f"bulk mail from a mass-mailing service ({bulk})"
    if _NO_REPLY.match(mail.from_address or ""):
        return "automated mail from a no-reply address (nobody reads an answer there)"
    return None
