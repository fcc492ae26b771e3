"""Screenshot a digest in headless Chromium: phone and desktop width, light and dark.

    python bench/screenshots.py [--digest demo|sample] [--chromium /usr/bin/chromium]
                                [--out bench/out]

`--digest demo` (the default) runs `pln demo` (the whole pipeline, offline,
on the shipped sample feeds) and shoots Ana's digest; `sample` renders the
hand-written day of bench/sample_day.py. Writes digest.html, digest.txt and
one PNG per (width, colour scheme) into the output folder (bench/out/,
git-ignored), plus a phone shot with images blocked, and prints the paths.

Chromium runs with networking features off and a throw-away profile. The
sample pictures live on fictional hosts (*.example), so the page copy
that is shot points each https picture at a generated local image
(striped, coloured by its URL); the "images blocked" shot uses the page
as sent, with images turned off, to show what a reader sees then.
"""

from __future__ import annotations

import argparse
import hashlib
import html
import re
import struct
import subprocess
import sys
import tempfile
import zlib
from datetime import timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from sample_day import NOW, RECIPIENT, SOURCE_TITLES, sample_posts

from aggregator.run.demo.pipeline import run_demo
from connectors import network_labels
from digests.compose import build_digest_from_posts
from digests.render import render_html, render_text

SIZES = {"phone": (390, 2400), "desktop": (1000, 1900)}
FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--hide-scrollbars",
)
_IMG_SRC = re.compile(r'(<img\b[^>]*\bsrc=")(https://[^"]+)(")')
PICTURE_SIZE = (640, 360)


def screenshot(
    chromium: str,
    page: Path,
    png: Path,
    size: tuple[int, int],
    *,
    dark: bool = False,
    images: bool = True,
) -> None:
    """One PNG of `page` at `size`, in dark mode when `dark`, images off unless `images`."""
    with tempfile.TemporaryDirectory(prefix="pln-chromium-") as profile:
        command = [
            chromium,
            *FLAGS,
            f"--user-data-dir={profile}",
            f"--window-size={size[0]},{size[1]}",
            f"--screenshot={png}",
            # The OS theme as Chromium sees it: prefers-color-scheme: dark.
            *(["--force-dark-mode"] if dark else []),
            *([] if images else ["--blink-settings=imagesEnabled=false"]),
            page.as_uri(),
        ]
        subprocess.run(command, check=True, capture_output=True, timeout=120)


def _png(width: int, height: int, seed: bytes) -> bytes:
    """A striped picture in two colours taken from `seed`, as PNG bytes."""
    a, b = seed[:3], seed[3:6]
    rows = []
    for y in range(height):
        row = bytearray([0])  # filter: none
        for x in range(width):
            t = ((x + 2 * y) // 40) % 2
            shade = 0.55 + 0.45 * (y / height)
            row += bytes(int((a[i] if t else b[i]) * shade) for i in range(3))
        rows.append(bytes(row))

    def chunk(kind: bytes, data: bytes) -> bytes:
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(b"".join(rows), 6))
        + chunk(b"IEND", b"")
    )


def with_local_pictures(page: str, folder: Path) -> str:
    """`page` with each https picture pointing at a generated local PNG."""
    folder.mkdir(parents=True, exist_ok=True)
    made: dict[str, str] = {}

    def local(match: re.Match[str]) -> str:
        url = html.unescape(match.group(2))
        if url not in made:
            digest = hashlib.sha256(url.encode()).digest()
            path = folder / f"picture-{len(made) + 1}.png"
            path.write_bytes(_png(*PICTURE_SIZE, digest))
            made[url] = path.as_uri()
        return match.group(1) + made[url] + match.group(3)

    return _IMG_SRC.sub(local, page)


def sample_digest(out: Path) -> tuple[str, str]:
    """(HTML, text) of the hand-written sample day."""
    window = (NOW - timedelta(days=1), NOW)
    labels = network_labels()
    digest = build_digest_from_posts(
        sample_posts(), RECIPIENT, SOURCE_TITLES, NOW, window, labels=labels
    )
    return render_html(digest, labels=labels), render_text(digest, labels=labels)


def demo_digest(out: Path) -> tuple[str, str]:
    """(HTML, text) of Ana's digest from `pln demo`, run into `out`/demo."""
    report = run_demo(out / "demo")
    print(report.summary)
    return report.html_path.read_text("utf-8"), report.text_path.read_text("utf-8")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--digest", choices=("demo", "sample"), default="demo")
    parser.add_argument("--chromium", default="/usr/bin/chromium")
    parser.add_argument("--out", type=Path, default=Path(__file__).resolve().parent / "out")
    args = parser.parse_args()
    out: Path = args.out.resolve()
    out.mkdir(parents=True, exist_ok=True)
    page_html, text = (demo_digest if args.digest == "demo" else sample_digest)(out)
    page = out / "digest.html"
    page.write_text(page_html, encoding="utf-8")
    (out / "digest.txt").write_text(text, encoding="utf-8")
    shot = out / "digest-shot.html"
    shot.write_text(with_local_pictures(page_html, out / "pictures"), encoding="utf-8")
    print(f"{page}: {len(page_html.encode()):,} bytes")
    for name, size in SIZES.items():
        for dark in (False, True):
            png = out / f"digest-{name}{'-dark' if dark else ''}.png"
            screenshot(args.chromium, shot, png, size, dark=dark)
            print(png)
    blocked = out / "digest-phone-images-blocked.png"
    screenshot(args.chromium, page, blocked, SIZES["phone"], images=False)
    print(blocked)


if __name__ == "__main__":
    main()
