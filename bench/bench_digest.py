"""Digest benchmark: build every recipient's digest over a large stored corpus.

    python bench/bench_digest.py [--recipients 1000] [--sources 200] [--follows 20]
                                 [--posts 100000] [--days 10] [--quick] [--json FILE]

Generates realistic posts (blogs with long text and titles, social posts
with engagement, shared articles with tracking parameters, cross-posts,
a little spam), stores them through `Repository.save_fetch` in batches
into a fresh SQLite file (which works out each post's keys), then builds
and renders (HTML and text) the digest of every recipient with
`aggregator.app.build.build_digest`, as `pln send` would (one `Batch`,
from `start_batch`: the posts read once, their near-identical pairs tested
once). Reports digests per second end to end, its parts (starting the
batch, reading posts from the database, the pure choosing, rendering
alone: the floor), and peak memory. See bench/README.md.
"""

from __future__ import annotations

import argparse
import json
import random
import resource
import statistics
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from aggregator.app.build import build_digest, start_batch
from aggregator.app.wiring import App, build_app
from aggregator.config.types import Config, DatabaseConfig
from aggregator.domain.post import Engagement, Post
from aggregator.domain.recipient import RecipientConfig
from aggregator.domain.source import FetchResult, SourceConfig
from connectors import network_labels
from digests.render import render_html, render_text

NOW = datetime(2026, 11, 30, 12, 30, tzinfo=UTC)
SEED = 20261130
BATCH = 500
KINDS = (  # (source kind, network, share of sources)
    ("rss", "rss", 0.35),
    ("twitter_search", "twitter", 0.2),
    ("mastodon_tag", "mastodon", 0.25),
    ("bluesky_search", "bluesky", 0.15),
    ("facebook_page", "facebook", 0.05),
)
WORDS = (
    "lesson students rubric feedback inquiry phenomena retrieval practice exit ticket classroom "
    "reading writing science maths history project assessment formative summative groups "
    "discussion homework notebook lab model evidence claim reasoning vocabulary fluency phonics "
    "station routine seating behaviour parents report grading standards unit plan warmup hook "
    "question answer draft revise peer review choice voice agency podcast video slide board "
    "timer calendar schedule recess the a of to and in is for on with that this we our my"
).split()
# Real text is Zipf-distributed over a large vocabulary: made-up words
# after the common ones, drawn with weight 1/rank.
_SYLLABLES = ("ba", "ke", "ri", "mo", "tu", "la", "sen", "dor", "vi", "pa", "que", "lo", "ga", "ni")
VOCABULARY = WORDS + [a + b + c for a in _SYLLABLES for b in _SYLLABLES for c in _SYLLABLES]
ZIPF = [1 / rank for rank in range(1, len(VOCABULARY) + 1)]
ZONES = ("America/Chicago", "America/New_York", "Europe/London", "Australia/Sydney", "UTC")


def parse_args() -> argparse.Namespace:
    p = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    p.add_argument("--recipients", type=int, default=1000)
    p.add_argument("--sources", type=int, default=200)
    p.add_argument("--follows", type=int, default=20, help="sources each recipient follows")
    p.add_argument("--posts", type=int, default=100_000, help="posts stored in all")
    p.add_argument("--days", type=int, default=10, help="days the stored posts span")
    p.add_argument("--quick", action="store_true", help="100 recipients, 10,000 posts")
    p.add_argument("--json", type=Path, help="also write the figures to this file")
    args = p.parse_args()
    if args.quick:
        args.recipients, args.posts = min(args.recipients, 100), min(args.posts, 10_000)
    return args


def make_sources(count: int, rng: random.Random) -> list[tuple[SourceConfig, str]]:
    """`count` sources of the KINDS mix, with the network their posts carry."""
    weights = [share for _, _, share in KINDS]
    result = []
    for i in range(count):
        kind, network, _ = rng.choices(KINDS, weights)[0]
        source = SourceConfig(
            key=f"s{i:03d}",
            kind=kind,
            name=f"Source {i} ({network})",
            options=(("url", f"https://feeds.example/{i}"),),
        )
        result.append((source, network))
    return result


def _text(rng: random.Random, low: int, high: int) -> str:
    return " ".join(rng.choices(VOCABULARY, ZIPF, k=rng.randint(low, high)))


def make_post(
    rng: random.Random,
    source: SourceConfig,
    network: str,
    n: int,
    articles: list[str],
    days: int,
    now: datetime = NOW,
) -> Post:
    """One realistic post, published in the `days` before `now`: a titled
    blog post, or a social post that may share an article."""
    published = now - timedelta(seconds=rng.uniform(0, days * 86400))
    is_blog = network == "rss"
    links: tuple[str, ...] = ()
    text = _text(rng, 120, 900) if is_blog else _text(rng, 8, 60)
    if not is_blog and rng.random() < 0.3:
        article = rng.choice(articles)
        links = (article + rng.choice(("", "?utm_source=twitter", "/", "#top", "?fbclid=x1")),)
    if rng.random() < 0.01:
        text = "GIVEAWAY! follow and RT to win #crypto #bitcoin #nft " + text
    likes = 0 if is_blog else int(rng.lognormvariate(1.5, 1.4))
    return Post(
        source_key=source.key,
        external_id=f"{source.key}-{n}",
        network=network,
        url=f"https://{network}.example/{source.key}/{n}",
        author=f"Author {rng.randint(0, 60)} of {source.key}",
        title=_text(rng, 4, 12).capitalize() if is_blog else None,
        text=text,
        html=f"<p>{text}</p>" if len(text) < 400 else "",
        published_at=published,
        links=links,
        engagement=Engagement(likes=likes, reposts=likes // 4, replies=likes // 6),
        hashtags=("edchat",) if rng.random() < 0.2 else (),
    )


def make_recipients(
    count: int, keys: list[str], follows: int, rng: random.Random
) -> list[RecipientConfig]:
    return [
        RecipientConfig(
            email=f"teacher{i}@school.example",
            name=f"Teacher {i}",
            timezone=rng.choice(ZONES),
            reading_minutes=rng.choice((3, 5, 5, 10)),
            follow=tuple(rng.sample(keys, follows)),
            mute=("webinar",),
            boost=("formative assessment",) if i % 3 == 0 else (),
        )
        for i in range(count)
    ]


def load(
    app: App,
    sources: list[tuple[SourceConfig, str]],
    total: int,
    days: int,
    rng: random.Random,
    now: datetime = NOW,
) -> float:
    """Store `total` posts spread over the sources and the `days` before
    `now`, in batches; returns seconds taken."""
    articles = [f"https://www.blog{i}.example/posts/{i}-article" for i in range(400)]
    per_source = total // len(sources)
    started = time.perf_counter()
    for source, network in sources:
        posts = [make_post(rng, source, network, n, articles, days, now) for n in range(per_source)]
        for start in range(0, len(posts), BATCH):
            result = FetchResult(posts=tuple(posts[start : start + BATCH]))
            app.repo.save_fetch(source.key, result, now, now + timedelta(hours=1))
    return time.perf_counter() - started


@dataclass
class Timings:
    batch: float = 0.0
    read: list[float] = field(default_factory=list)
    build: list[float] = field(default_factory=list)
    render: list[float] = field(default_factory=list)
    entries: list[int] = field(default_factory=list)
    candidates: list[int] = field(default_factory=list)
    html_bytes: list[int] = field(default_factory=list)


def timed_reads(app: App, timings: Timings) -> None:
    """Time every read of posts (the database part of a build)."""
    read: Callable[..., list[Post]] = app.repo.posts_for_digest

    def wrapper(*args: Any) -> list[Post]:
        started = time.perf_counter()
        try:
            return read(*args)
        finally:
            timings.read.append(time.perf_counter() - started)

    app.repo.posts_for_digest = wrapper  # type: ignore[method-assign]


def run_digests(app: App, recipients: list[RecipientConfig]) -> tuple[Timings, float]:
    timings = Timings()
    timed_reads(app, timings)
    labels = network_labels()
    started = time.perf_counter()
    with start_batch(app, recipients, NOW) as batch:  # one per batch, as `send_due_digests`
        timings.batch = time.perf_counter() - started
        for recipient in recipients:
            t0 = time.perf_counter()
            digest = build_digest(app, recipient, NOW, batch)
            t1 = time.perf_counter()
            html = render_html(digest, labels=labels)
            render_text(digest, labels=labels)
            timings.render.append(time.perf_counter() - t1)
            timings.build.append(t1 - t0)
            timings.entries.append(len(digest.entries) + len(digest.also))
            timings.candidates.append(digest.candidate_count)
            timings.html_bytes.append(len(html.encode()))
    return timings, time.perf_counter() - started


def peak_memory_mb() -> dict[str, float]:
    """Peak resident memory: ru_maxrss and /proc's VmHWM, in MB."""
    figures = {"ru_maxrss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            figures["vmhwm_mb"] = int(line.split()[1]) / 1024
    return figures


def main() -> None:
    args = parse_args()
    rng = random.Random(SEED)
    sources = make_sources(args.sources, rng)
    recipients = make_recipients(args.recipients, [s.key for s, _ in sources], args.follows, rng)
    with tempfile.TemporaryDirectory(prefix="pln-bench-digest-") as folder:
        config = Config(
            database=DatabaseConfig(f"sqlite:///{folder}/pln.db"),
            sources=tuple(s for s, _ in sources),
            recipients=tuple(recipients),
        )
        with build_app(config, clock=lambda: NOW, connectors={}) as app:
            load_s = load(app, sources, args.posts, args.days, rng)
            memory_loaded = peak_memory_mb()
            timings, total_s = run_digests(app, recipients)
    n = len(recipients)
    # The batch's own read is in its start, not in the digests' reads.
    read_s = sum(timings.read[1:])
    build_s, render_s, batch_s = sum(timings.build), sum(timings.render), timings.batch
    figures = {
        "recipients": n,
        "sources": args.sources,
        "follows": args.follows,
        "posts": args.posts,
        "days": args.days,
        "load_s": round(load_s, 1),
        "digests_per_s": round(n / total_s, 1),
        "total_s": round(total_s, 2),
        "batch_s": round(batch_s, 2),
        "read_s": round(read_s, 2),
        "choose_s": round(build_s - read_s, 2),
        "render_s": round(render_s, 2),
        "render_only_digests_per_s": round(n / render_s, 1),
        "median_candidates": statistics.median(timings.candidates),
        "median_shown": statistics.median(timings.entries),
        "max_html_kb": round(max(timings.html_bytes) / 1024, 1),
        "peak_after_load": memory_loaded,
        "peak": peak_memory_mb(),
    }
    print(
        f"{n} digests over {args.posts:,} posts ({args.sources} sources, {args.follows} followed "
        f"each, {args.days} days): stored in {load_s:.1f} s"
    )
    print(f"  end to end  {figures['digests_per_s']:>7} digests/s  ({total_s:.1f} s)")
    print(
        f"  start batch {batch_s:>7.1f} s   read posts {read_s:.1f} s   "
        f"choose (pure) {build_s - read_s:.1f} s   "
        f"render html+text {render_s:.1f} s (floor: {figures['render_only_digests_per_s']} digests/s)"
    )
    print(
        f"  median candidates {figures['median_candidates']}, shown {figures['median_shown']}, "
        f"largest HTML {figures['max_html_kb']} KB"
    )
    print(
        f"  peak memory {figures['peak']['ru_maxrss_mb']:.0f} MB "
        f"(VmHWM {figures['peak'].get('vmhwm_mb', 0):.0f} MB; "
        f"{figures['peak_after_load']['ru_maxrss_mb']:.0f} MB after loading)"
    )
    if args.json:
        args.json.write_text(json.dumps(figures, indent=2), encoding="utf-8")


if __name__ == "__main__":
    main()
