"""Render a sample digest and screenshot it in headless Chromium at phone and desktop width.

    python bench/screenshots.py [--chromium /usr/bin/chromium] [--out bench/out]

Writes digest.html, digest.txt, explain.txt and one PNG per (width, colour
scheme) into the output folder (bench/out/, git-ignored), and prints the
HTML size. Chromium runs with networking features off and a throw-away
profile; the page itself loads nothing remote except the post's sample
image URL, which fails offline and shows the alt text instead.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
from datetime import timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from sample_day import NOW, RECIPIENT, SOURCE_TITLES, sample_posts

from connectors import network_labels
from digests.compose import build_digest_from_posts
from digests.explain import explain_lines
from digests.render import render_html, render_text

SIZES = {"phone": (390, 1600), "desktop": (1000, 2400)}
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


def screenshot(chromium: str, page: Path, png: Path, size: tuple[int, int], dark: bool) -> None:
    """One PNG of `page` at `size`, in dark mode when `dark`."""
    with tempfile.TemporaryDirectory(prefix="pln-chromium-") as profile:
        command = [
            chromium,
            *FLAGS,
            f"--user-data-dir={profile}",
            f"--window-size={size[0]},{size[1]}",
            f"--screenshot={png}",
            # The OS theme as Chromium sees it: prefers-color-scheme: dark.
            *(["--force-dark-mode"] if dark else []),
            page.as_uri(),
        ]
        subprocess.run(command, check=True, capture_output=True, timeout=120)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--chromium", default="/usr/bin/chromium")
    parser.add_argument("--out", type=Path, default=Path(__file__).resolve().parent / "out")
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    window = (NOW - timedelta(days=1), NOW)
    labels = network_labels()
    digest = build_digest_from_posts(
        sample_posts(), RECIPIENT, SOURCE_TITLES, NOW, window, labels=labels
    )
    html = render_html(digest, labels=labels)
    page = args.out / "digest.html"
    page.write_text(html, encoding="utf-8")
    (args.out / "digest.txt").write_text(render_text(digest, labels=labels), encoding="utf-8")
    (args.out / "explain.txt").write_text("\n".join(explain_lines(digest)) + "\n", encoding="utf-8")
    print(f"{page}: {len(html.encode()):,} bytes; subject: {digest.subject}")
    for name, size in SIZES.items():
        for dark in (False, True):
            png = args.out / f"digest-{name}{'-dark' if dark else ''}.png"
            screenshot(args.chromium, page, png, size, dark)
            print(png)


if __name__ == "__main__":
    main()
