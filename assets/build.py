"""Builds blog/static/css/site.css from assets/css/*.css (in file-name order).

No Node toolchain: the stylesheet is plain CSS, concatenated and stripped of comments and blank lines.
Run with ``python assets/build.py`` (``make assets``); ``--check`` exits 1 when the output is stale.
"""
from __future__ import annotations

import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SOURCES = ROOT / "assets" / "css"
OUTPUT = ROOT / "blog" / "static" / "css" / "site.css"


def build() -> str:
    parts = []
    for path in sorted(SOURCES.glob("*.css")):
        css = re.sub(r"/\*.*?\*/", "", path.read_text(), flags=re.S)
        lines = [line.strip() for line in css.splitlines() if line.strip()]
        parts.append(f"/* {path.name} */\n" + "\n".join(lines))
    return "/* Built from assets/css by assets/build.py: edit the sources, not this file. */\n" + "\n".join(parts) + "\n"


def main(argv: list[str]) -> int:
    css = build()
    if "--check" in argv:
        if not OUTPUT.exists() or OUTPUT.read_text() != css:
            print(f"{OUTPUT.relative_to(ROOT)} is stale: run `make assets`", file=sys.stderr)
            return 1
        return 0
    OUTPUT.parent.mkdir(parents=True, exist_ok=True)
    OUTPUT.write_text(css)
    print(f"wrote {OUTPUT.relative_to(ROOT)} ({len(css)} bytes)")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
