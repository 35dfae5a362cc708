"""Build the public site's static assets: U.S. Web Design System files from npm into static/.

Run by `make run` as `python -m app.public.assets`. Installs the npm packages when they are
missing (`npm ci` with the lock file), then copies the USWDS CSS, JavaScript, fonts and images
into `app/public/static/vendor/uswds/` (not committed). Idempotent: when the copy is already
there for the installed USWDS version it does nothing. Without npm it warns and carries on;
the pages still work, unstyled.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
NODE_MODULES = ROOT / "node_modules"
USWDS_PACKAGE = NODE_MODULES / "@uswds" / "uswds"
USWDS_DIST = USWDS_PACKAGE / "dist"
AXE_SCRIPT = NODE_MODULES / "axe-core" / "axe.min.js"
VENDOR = Path(__file__).resolve().parent / "static" / "vendor" / "uswds"
STAMP = VENDOR / ".version"

# (source under dist/, destination under vendor/uswds/); the CSS finds ../fonts and ../img.
COPIES = (
    ("css/uswds.min.css", "css/uswds.min.css"),
    ("js/uswds-init.min.js", "js/uswds-init.min.js"),
    ("js/uswds.min.js", "js/uswds.min.js"),
    ("fonts", "fonts"),
    ("img", "img"),
)


def _warn(message: str) -> None:
    print(f"warning: {message}", file=sys.stderr)


def _pinned_version() -> str | None:
    """The USWDS version package.json asks for, when it is an exact pin."""
    try:
        spec = json.loads((ROOT / "package.json").read_text())["dependencies"]["@uswds/uswds"]
    except (OSError, KeyError, ValueError):
        return None
    return spec if spec[:1].isdigit() else None


def installed_version() -> str | None:
    try:
        return json.loads((USWDS_PACKAGE / "package.json").read_text())["version"]
    except (OSError, KeyError, ValueError):
        return None


def _needs_install() -> bool:
    if not USWDS_DIST.is_dir() or not AXE_SCRIPT.parent.is_dir():
        return True
    pinned = _pinned_version()
    return pinned is not None and pinned != installed_version()


def npm_install() -> bool:
    """Install the npm packages if they are missing or stale; False when that is impossible."""
    if not _needs_install():
        return True
    npm = shutil.which("npm")
    if npm is None:
        _warn(
            "npm was not found, so the U.S. Web Design System styles were not installed. "
            "The public site works but is unstyled. Install Node.js and npm, then run "
            "`python -m app.public.assets` again."
        )
        return False
    locked = (ROOT / "package-lock.json").exists()
    command = [npm, "ci" if locked else "install", "--no-audit", "--no-fund"]
    print(f"Installing front-end packages: {' '.join(command[1:])}", flush=True)
    result = subprocess.run(command, cwd=ROOT, check=False)  # noqa: S603 - fixed arguments
    if result.returncode != 0 or not USWDS_DIST.is_dir():
        _warn(f"`npm {command[1]}` failed (exit {result.returncode}); the public site is unstyled.")
        return False
    return True


def copy_vendor() -> bool:
    """Copy the USWDS files into static/vendor/uswds unless that copy is already current."""
    version = installed_version()
    if version is None or not USWDS_DIST.is_dir():
        return False
    if STAMP.exists() and STAMP.read_text().strip() == version:
        return True
    if VENDOR.exists():
        shutil.rmtree(VENDOR)
    for source, target in COPIES:
        src, dst = USWDS_DIST / source, VENDOR / target
        dst.parent.mkdir(parents=True, exist_ok=True)
        if src.is_dir():
            shutil.copytree(src, dst)
        else:
            shutil.copy2(src, dst)
    STAMP.write_text(version + "\n")
    print(f"Copied U.S. Web Design System {version} to {VENDOR.relative_to(ROOT)}/", flush=True)
    return True


def build() -> bool:
    """Install and copy what is needed; True when the styled site is ready."""
    return npm_install() and copy_vendor()


def main() -> int:
    build()
    return 0  # a missing npm is a warning, never a failed `make run`


if __name__ == "__main__":
    raise SystemExit(main())
