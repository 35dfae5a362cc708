"""Read a scan in a child process with a memory and a time limit.

Decoders are large C libraries fed files from strangers: a decompression bomb, a page some
metadata enlarges past reason, a decoder bug. Read in the batch's own process, one such file
grew it past 20 GB until the kernel killed it, and the batch with it. Read here, the child
hits its limit and the file fails alone, with a reason a clerk can act on:

    python -m channels.mail_scans.sandbox '{"max_pixels": ..., "memory_mb": ...}' < scan

The child sets RLIMIT_AS on itself before it reads a byte (Tesseract and jbig2dec, which it
starts, inherit the limit each), writes one JSON object to stdout, and runs in a session of
its own, so a timeout stops its helpers too.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import signal
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

from channels.mail_scans.extract import MAX_PIXELS, ScanError, ScanText, extract

# Where `channels` lives, so the child imports this very code whatever its working directory.
_ROOT = str(Path(__file__).resolve().parents[2])
# The child reads strangers' files with C decoders: it gets no credentials it has no use for.
_SECRET = re.compile(r"SECRET|TOKEN|PASSWORD|PASSWD|KEY|_URL$|_URI$|DSN", re.IGNORECASE)


@dataclass(frozen=True)
class Limits:
    max_pixels: int = MAX_PIXELS
    memory_mb: int = 1024
    timeout_seconds: float = 300


def read_in_child(data: bytes, limits: Limits, *, ocr: bool = True) -> ScanText:
    """`extract(data)` in a child process; ScanError for what cannot be read within the
    limits, as for any unreadable file."""
    settings = {"max_pixels": limits.max_pixels, "memory_mb": limits.memory_mb, "ocr": ocr}
    env = {k: v for k, v in os.environ.items() if not _SECRET.search(k)}
    env.update(
        OMP_THREAD_LIMIT="1",  # see extract.py
        PYTHONPATH=os.pathsep.join(p for p in (_ROOT, os.environ.get("PYTHONPATH")) if p),
    )
    child = subprocess.Popen(  # noqa: S603 - this interpreter and this module
        [sys.executable, "-m", __name__, json.dumps(settings)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,  # decoder chatter; nothing from the letter belongs in logs
        env=env,
        start_new_session=True,
    )
    try:
        out, _ = child.communicate(data, timeout=limits.timeout_seconds)
    except subprocess.TimeoutExpired:
        _stop(child)
        raise ScanError(
            f"Reading this scan took longer than {limits.timeout_seconds:g} seconds, so it was "
            "stopped; it is damaged or far heavier than a letter. Scan it again at 300 dpi, "
            "or split it."
        ) from None
    except BaseException:  # the batch itself is being stopped: take the child with it
        _stop(child)
        raise
    try:
        result = json.loads(out)
    except ValueError:
        result = {}
    if "scan" in result:
        return ScanText.from_dict(result["scan"])
    if "error" in result:
        raise ScanError(result["error"])
    if child.returncode < 0:  # killed: by the kernel for memory, or a decoder crashed
        _kill_session(child)  # its helpers may still run
        name = signal.Signals(-child.returncode).name
    else:
        name = f"exit status {child.returncode}"
    if result.get("memory") or child.returncode < 0:
        raise ScanError(
            f"Reading this scan needed more than {limits.memory_mb} MB of memory, so it was "
            f"stopped ({'MemoryError' if result.get('memory') else name}); the file is damaged "
            "or far larger than a letter. Scan it again at 300 dpi."
        )
    raise ScanError(f"The scan reader failed ({name}); the file may be damaged.")


def _kill_session(child: subprocess.Popen) -> None:
    """Kill the child and the Tesseract or jbig2dec it started (its session, ours alone)."""
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(child.pid, signal.SIGKILL)


def _stop(child: subprocess.Popen) -> None:
    _kill_session(child)
    child.communicate()  # reap it and close the pipes


def _limit_memory(megabytes: int) -> None:
    import resource

    limit = megabytes * 1024 * 1024
    resource.setrlimit(resource.RLIMIT_AS, (limit, limit))


def main(argv: list[str]) -> int:
    from PIL import Image

    settings = json.loads(argv[0])
    _limit_memory(settings["memory_mb"])
    Image.MAX_IMAGE_PIXELS = settings["max_pixels"]  # Pillow's own bomb check, at our cap
    result_out = os.fdopen(os.dup(1), "w")
    os.dup2(2, 1)  # anything a library prints goes to stderr, never into the result
    data = sys.stdin.buffer.read()
    try:
        scan = extract(data, ocr=settings["ocr"], max_pixels=settings["max_pixels"])
        result = {"scan": scan.as_dict()}
    except ScanError as exc:
        result = {"error": str(exc)}
    except MemoryError:
        scan = data = None  # free what can be freed to write the answer
        result = {"memory": True}
    except Exception as exc:  # noqa: BLE001 - reported by class only: no letter text
        result = {"error": f"The scan reader failed ({exc.__class__.__name__})."}
    result_out.write(json.dumps(result))
    result_out.flush()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
