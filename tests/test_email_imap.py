"""`redress imap poll` against a small IMAP4rev1 stand-in over TLS on loopback (port 0, a
self-signed certificate), driven by the real imaplib client."""

from __future__ import annotations

import re
import socketserver
import ssl
import threading
from dataclasses import dataclass, field

import pytest

from app.email.models import MailboxState
from app.extensions import db
from app.inbound.models import InboundMessage
from tests.test_email_doors import complaint, tls_files  # noqa: F401  (a fixture)


@dataclass
class Mailbox:
    """The server's state: messages by UID with their flags, and other folders."""

    uidvalidity: int = 7001
    messages: dict[int, bytes] = field(default_factory=dict)
    flags: dict[int, set[str]] = field(default_factory=dict)
    folders: dict[str, list[bytes]] = field(default_factory=dict)
    next_uid: int = 1
    log: list[str] = field(default_factory=list)
    on_flag: object = None  # called with the UID when a message is marked seen or moved

    def add(self, raw: bytes) -> int:
        uid = self.next_uid
        self.next_uid += 1
        self.messages[uid] = raw.replace(b"\r\n", b"\n").replace(b"\n", b"\r\n")
        self.flags[uid] = set()
        return uid


class _Handler(socketserver.StreamRequestHandler):
    def send(self, line: str | bytes) -> None:
        self.wfile.write(line if isinstance(line, bytes) else line.encode())
        self.wfile.flush()

    def handle(self) -> None:
        box: Mailbox = self.server.mailbox
        self.send("* OK [CAPABILITY IMAP4rev1 MOVE] stand-in ready\r\n")
        while True:
            line = self.rfile.readline()
            if not line:
                return
            tag, _, rest = line.decode().rstrip("\r\n").partition(" ")
            command, _, args = rest.partition(" ")
            command = command.upper()
            box.log.append(f"{command} {args}".strip())
            if command == "CAPABILITY":
                self.send(f"* CAPABILITY IMAP4rev1 MOVE\r\n{tag} OK done\r\n")
            elif command == "LOGIN":
                user, password = [a.strip('"') for a in args.split(" ", 1)]
                ok = (user, password) == ("intake@redress.example", "imap-pass")
                self.send(f"{tag} OK logged in\r\n" if ok else f"{tag} NO bad login\r\n")
            elif command == "SELECT":
                self.send(
                    f"* {len(box.messages)} EXISTS\r\n* 0 RECENT\r\n"
                    f"* OK [UIDVALIDITY {box.uidvalidity}] UIDs valid\r\n"
                    f"* OK [UIDNEXT {box.next_uid}] next\r\n{tag} OK [READ-WRITE] selected\r\n"
                )
            elif command == "UID":
                self.uid(tag, args, box)
            elif command == "LOGOUT":
                self.send(f"* BYE\r\n{tag} OK bye\r\n")
                return
            else:
                self.send(f"{tag} OK\r\n")

    def uid(self, tag: str, args: str, box: Mailbox) -> None:
        sub, _, rest = args.partition(" ")
        sub = sub.upper()
        uids = sorted(box.messages)
        seq = {uid: i + 1 for i, uid in enumerate(uids)}
        if sub == "SEARCH":
            low = int(re.search(r"UID (\d+):\*", rest).group(1))
            # RFC 3501: "n:*" always includes the highest UID, even when it is below n.
            found = [u for u in uids if u >= low] or uids[-1:]
            self.send(f"* SEARCH {' '.join(map(str, found))}\r\n{tag} OK search done\r\n")
        elif sub == "FETCH":
            uid = int(rest.split(" ")[0])
            raw = box.messages[uid]
            self.send(f"* {seq[uid]} FETCH (UID {uid} BODY[] {{{len(raw)}}}\r\n".encode() + raw)
            self.send(f")\r\n{tag} OK fetch done\r\n")
        elif sub == "STORE":
            uid = int(rest.split(" ")[0])
            if box.on_flag:
                box.on_flag(uid)
            box.flags[uid].add("\\Seen")
            self.send(f"* {seq[uid]} FETCH (UID {uid} FLAGS (\\Seen))\r\n{tag} OK stored\r\n")
        elif sub == "MOVE":
            uid_text, folder = rest.split(" ", 1)
            uid = int(uid_text)
            if box.on_flag:
                box.on_flag(uid)
            box.folders.setdefault(folder.strip('"'), []).append(box.messages.pop(uid))
            self.send(f"{tag} OK moved\r\n")
        else:
            self.send(f"{tag} BAD unknown UID command\r\n")


class _TLSServer(socketserver.ThreadingTCPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, context: ssl.SSLContext, mailbox: Mailbox) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.context = context
        self.mailbox = mailbox

    def get_request(self):
        sock, address = super().get_request()
        return self.context.wrap_socket(sock, server_side=True), address


@pytest.fixture
def imap_server(app, tls_files, monkeypatch):  # noqa: F811
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(*tls_files)
    mailbox = Mailbox()
    server = _TLSServer(context, mailbox)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    monkeypatch.setenv("SSL_CERT_FILE", tls_files[0])  # trust the stand-in's certificate
    port = server.server_address[1]
    app.config["IMAP_URL"] = f"imaps://intake%40redress.example:imap-pass@127.0.0.1:{port}/INBOX"
    yield mailbox
    app.config["IMAP_URL"] = None
    server.shutdown()
    server.server_close()


def poll(app) -> str:
    result = app.test_cli_runner().invoke(args=["imap", "poll"])
    assert result.exit_code == 0, result.output
    return result.output.strip()


def stored() -> list[InboundMessage]:
    db.session.expire_all()
    return db.session.scalars(db.select(InboundMessage).order_by(InboundMessage.id)).all()


def test_poll_stores_new_mail_then_marks_it_seen_and_remembers_the_uid(app, imap_server):
    first = imap_server.add(complaint("Robocalls", "Robocalls all day.").as_bytes())
    second = imap_server.add(complaint("Equifax", "Equifax error on my credit report.").as_bytes())
    committed_before_seen = []

    def check(uid: int) -> None:  # the server is told "seen" only after the row is committed
        with app.app_context():
            rows = db.session.scalars(db.select(InboundMessage)).all()
            committed_before_seen.append(any(r.meta.get("uid") == uid for r in rows))
            db.session.remove()

    imap_server.on_flag = check
    assert poll(app) == "INBOX: 2 fetched, 2 stored, 0 already received."
    assert committed_before_seen == [True, True]
    rows = stored()
    assert [r.source for r in rows] == ["imap", "imap"]
    assert [r.outcome for r in rows] == ["case_opened", "case_opened"]
    assert [r.meta["uid"] for r in rows] == [first, second]
    assert rows[1].case.agency.code == "CFPB"
    assert imap_server.flags[first] == {"\\Seen"} and imap_server.flags[second] == {"\\Seen"}
    state = db.session.scalar(db.select(MailboxState))
    assert (state.uidvalidity, state.last_uid) == (7001, second)
    fetches = [c for c in imap_server.log if c.startswith("UID FETCH")]
    assert all("BODY.PEEK[]" in c for c in fetches)  # fetching does not itself mark seen

    assert poll(app) == "INBOX: 0 fetched, 0 stored, 0 already received."
    third = imap_server.add(complaint("Overtime", "No overtime pay.").as_bytes())
    assert poll(app) == "INBOX: 1 fetched, 1 stored, 0 already received."
    assert stored()[-1].meta["uid"] == third
    assert len([c for c in imap_server.log if c.startswith("UID FETCH")]) == 3


def test_a_renumbered_mailbox_is_read_again_without_duplicates(app, imap_server):
    imap_server.add(complaint("Robocalls", "Robocalls all day.").as_bytes())
    poll(app)
    imap_server.uidvalidity = 9002  # the server rebuilt the mailbox
    assert poll(app) == "INBOX: 1 fetched, 0 stored, 1 already received."
    assert len(stored()) == 1
    state = db.session.scalar(db.select(MailboxState))
    assert state.uidvalidity == 9002


def test_poll_can_move_processed_mail_to_a_folder(app, imap_server):
    imap_server.add(complaint("Robocalls", "Robocalls all day.").as_bytes())
    app.config["IMAP_URL"] += "?move=Processed"
    assert poll(app).startswith("INBOX: 1 fetched, 1 stored")
    assert imap_server.messages == {} and len(imap_server.folders["Processed"]) == 1


def test_poll_explains_bad_settings_and_refused_logins(app, imap_server):
    runner = app.test_cli_runner()
    app.config["IMAP_URL"] = app.config["IMAP_URL"].replace("imap-pass", "wrong")
    refused = runner.invoke(args=["imap", "poll"])
    assert refused.exit_code != 0 and "IMAP failed" in refused.output
    app.config["IMAP_URL"] = "imap://intake:pw@127.0.0.1/INBOX"
    plain = runner.invoke(args=["imap", "poll"])
    assert plain.exit_code != 0 and "TLS only" in plain.output
    app.config["IMAP_URL"] = None
    unset = runner.invoke(args=["imap", "poll"])
    assert unset.exit_code != 0 and "IMAP_URL is not set" in unset.output
    assert stored() == []
