"""A private SpamAssassin spamd on loopback, for the spam tests and the recognition figures.

Debian's `spamassassin` package (spamd) with its shipped rules, local tests only (`-L`: no DNS
or network rules), no Bayes, no user configuration, on a free port picked at run time.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

SPAMD = shutil.which("spamd") or "/usr/sbin/spamd"
SITE_CONFIG = Path("/etc/spamassassin")  # the .pre files that load SpamAssassin's plugins
GTUBE = "XJS*C4JDBQADN1.NSBN3*2IDNEN*GTUBE-STANDARD-ANTI-UBE-TEST-EMAIL*C.34X"
_LOCAL_CF = "use_bayes 0\nbayes_auto_learn 0\nskip_rbl_checks 1\n"


class SpamdMissing(RuntimeError):
    """spamd is not installed (Debian: apt-get install spamassassin)."""


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextmanager
def spamd_server(*, timeout: float = 90) -> Iterator[str]:
    """Start spamd, wait until it scores a message, yield its SPAMD_URL, stop it."""
    if not os.path.exists(SPAMD):
        raise SpamdMissing(f"spamd is not installed ({SPAMD}); apt-get install spamassassin spamd")
    # Its own folder in /tmp: spamd drops root for "nobody", who must be able to reach the
    # configuration (pytest's temporary folders are private to root).
    with tempfile.TemporaryDirectory(prefix="redress-spamd-") as name:
        yield from _run(Path(name), timeout)


def _run(folder: Path, timeout: float) -> Iterator[str]:
    from channels.email import spamc

    site = folder / "site"
    site.mkdir(parents=True, exist_ok=True)
    for pre in SITE_CONFIG.glob("*.pre"):
        shutil.copy(pre, site / pre.name)
    (site / "local.cf").write_text(_LOCAL_CF)
    for path in (folder, site, *site.iterdir()):
        path.chmod(0o755 if path.is_dir() else 0o644)
    port = _free_port()
    command = [
        SPAMD, "-L", f"--listen=127.0.0.1:{port}", "-x", f"--siteconfigpath={site}",
        "--min-children=1", "--max-children=2", "--syslog=stderr",
        f"--helper-home-dir={folder}", f"--pidfile={folder / 'spamd.pid'}",
    ]  # fmt: skip
    if os.geteuid() == 0:
        command += ["-u", "nobody"]
    log = (folder / "spamd.log").open("wb")
    process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT)  # noqa: S603
    url = f"spamd://127.0.0.1:{port}"
    probe = f"From: a@example.org\nSubject: probe\n\n{GTUBE}\n".encode()
    try:
        deadline = time.monotonic() + timeout
        while True:
            if process.poll() is not None:
                raise RuntimeError(f"spamd exited at start; see {folder / 'spamd.log'}")
            try:
                spamc.check(url, probe, timeout=10)
                break
            except spamc.SpamdUnavailable:
                if time.monotonic() > deadline:
                    raise RuntimeError("spamd did not start in time") from None
                time.sleep(0.3)
        yield url
    finally:
        process.terminate()  # spamd's parent stops its children on SIGTERM
        try:
            process.wait(15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(5)
        log.close()
