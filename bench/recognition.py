"""Junk recognition on the shared corpora: bounces, auto-replies and spam, with and without spamd.

Not a speed benchmark: the share of each corpus the email channel sorts as its authors label
it. Every message goes through the same parse, classification and spam check as
`app.email.intake.process` (bounce and automatic mail first, then spamd where configured).

  bounces_autoreplies/   sisimai's set-of-emails: every file is a bounce, except rfc3834-*
                         (auto-replies), arf-* (feedback reports) and maildir/not/ (not bounces)
  spamassassin/          Apache SpamAssassin's t/data: nice/ and nice.mbox are ham, spam/ is
                         spam, welcomelists/ is real bulk mail (newsletters, notifications)

`--spamd` starts a private spamd (Debian's spamassassin, local tests only) on loopback;
`--spamd-url spamd://host:port` uses a running one. Prints the figures and the misses.
"""

from __future__ import annotations

import json
import sys
import time
from collections import Counter
from pathlib import Path

SHARED = Path(__file__).resolve().parents[1].parent.parent / "shared" / "data" / "email"
RESULTS_DIR = Path(__file__).resolve().parent / "results"


def add_arguments(parser) -> None:
    parser.add_argument("--corpus", default=str(SHARED), help="the shared email corpora")
    parser.add_argument("--spamd", action="store_true", help="start a private spamd")
    parser.add_argument("--spamd-url", default="", help="use this spamd instead")
    parser.add_argument("--threshold", type=float, default=5.0, help="spam score threshold")


def _messages(folder: Path):
    from channels.email.parse import mbox_messages

    for path in sorted(folder.rglob("*")):
        if not path.is_file() or path.name in ("LICENSE", "SOURCE.txt", "README.upstream.md"):
            continue
        rel = str(path.relative_to(folder))
        if "esp_webhook_json" in rel:
            continue  # JSON webhook bodies, not email
        if rel.startswith("mailbox/") or path.suffix == ".mbox":
            for index, message in enumerate(mbox_messages(path), 1):
                yield f"{rel}#{index}", message
        else:
            yield rel, path.read_bytes()


def bounce_label(rel: str) -> str:
    name = rel.rsplit("/", 1)[-1]
    if name.startswith("arf-"):
        return "feedback_report"
    if name.startswith("rfc3834"):
        return "auto_reply"
    if "/not/" in rel:
        return "message"
    return "bounce"


def spam_label(rel: str) -> str:
    top = rel.split("/", 1)[0]
    return {"nice": "ham", "nice.mbox": "ham", "spam": "spam"}.get(top, "bulk")


def _kind(raw: bytes) -> str:
    from channels.email import Unreadable, classify, parse_message

    try:
        return classify(parse_message(raw), own_addresses=("complaints@redress.localhost",)).kind
    except Unreadable:
        return "unreadable"


def bounces(folder: Path) -> dict:
    counts, misses = Counter(), []
    for rel, raw in _messages(folder):
        want, got = bounce_label(rel), _kind(raw)
        counts[(want, got == want)] += 1
        if got != want:
            misses.append(f"{rel}: labelled {want}, sorted as {got}")
    total = sum(counts.values())
    right = sum(n for (_, ok), n in counts.items() if ok)
    bounce_total = counts[("bounce", True)] + counts[("bounce", False)]
    return {
        "messages": total,
        "recognised": right,
        "share": round(100 * right / total, 2),
        "bounces": bounce_total,
        "bounces_recognised": counts[("bounce", True)],
        "bounce_share": round(100 * counts[("bounce", True)] / bounce_total, 2),
        "misses": misses,
    }


def spam(folder: Path, url: str | None, threshold: float) -> dict:
    from channels.email import spamc

    table: Counter = Counter()
    misses = []
    scored = 0
    for rel, raw in _messages(folder):
        label = spam_label(rel)
        kind = _kind(raw)
        if kind == "unreadable":
            verdict = "failed (unreadable)"
        elif kind != "message":
            verdict = f"ignored ({kind})"
        elif url and len(raw) <= spamc.MAX_BYTES:
            score = spamc.check(url, raw, timeout=60).score
            scored += 1
            verdict = "ignored (spam)" if score >= threshold else "case"
        else:
            verdict = "case"
        table[(label, verdict.split(" ")[0])] += 1
        if (label == "spam" and verdict == "case") or (label == "ham" and verdict != "case"):
            misses.append(f"{rel}: {label}, {verdict}")
    result = {"scored_by_spamd": scored, "threshold": threshold}
    for label in ("ham", "spam", "bulk"):
        total = sum(n for (lab, _), n in table.items() if lab == label)
        result[label] = {
            "messages": total,
            "case": table[(label, "case")],
            "ignored": table[(label, "ignored")],
            "failed": table[(label, "failed")],
        }
    result["misses"] = misses
    return result


def run(args) -> int:
    corpus = Path(args.corpus)
    if not corpus.is_dir():
        print(f"no corpus at {corpus}", file=sys.stderr)
        return 2
    report = {"bounces_autoreplies": bounces(corpus / "bounces_autoreplies")}
    report["spam_without_spamd"] = spam(corpus / "spamassassin", None, args.threshold)
    if args.spamd_url:
        report["spam_with_spamd"] = spam(corpus / "spamassassin", args.spamd_url, args.threshold)
    elif args.spamd:
        from tests.spamd_support import spamd_server

        with spamd_server() as url:
            started = time.monotonic()
            report["spam_with_spamd"] = spam(corpus / "spamassassin", url, args.threshold)
            report["spam_with_spamd"]["seconds"] = round(time.monotonic() - started, 1)
    b = report["bounces_autoreplies"]
    print(
        f"bounces_autoreplies: {b['recognised']}/{b['messages']} sorted as labelled "
        f"({b['share']} %); bounces {b['bounces_recognised']}/{b['bounces']} "
        f"({b['bounce_share']} %)"
    )
    for miss in b["misses"]:
        print(f"  {miss}")
    for name in ("spam_without_spamd", "spam_with_spamd"):
        if name not in report:
            continue
        s = report[name]
        print(f"spamassassin, {name.replace('_', ' ')} (threshold {s['threshold']}):")
        for label in ("ham", "spam", "bulk"):
            row = s[label]
            print(
                f"  {label:5} {row['messages']:4} messages: {row['case']} case, "
                f"{row['ignored']} ignored, {row['failed']} failed"
            )
        for miss in s["misses"]:
            print(f"    {miss}")
    RESULTS_DIR.mkdir(exist_ok=True)
    stamp = time.strftime("%Y%m%d-%H%M%S")
    (RESULTS_DIR / f"recognition-{stamp}.json").write_text(json.dumps(report, indent=1) + "\n")
    return 0
