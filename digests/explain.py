"""Why the digest holds what it holds: one line per candidate, for `pln digest --explain`.

Every story gets its rank, decision, score parts and reason (with how it
stands out in its source, for a standout); the posts merged into it, and
the reposts of it, are listed under it; muted posts come last with the
word that muted them.
Plain text lines, no terminal markup, so the output can be piped, diffed
or pasted into an issue.
"""

from __future__ import annotations

from aggregator.domain.post import Post
from digests.choose import Decision
from digests.compose import Digest, format_day

_TITLE_CHARS = 60


def _short(text: str) -> str:
    """A headline cut to _TITLE_CHARS characters on one line."""
    line = " ".join(text.split())
    return line if len(line) <= _TITLE_CHARS else line[: _TITLE_CHARS - 1] + "\u2026"


def _headline(post: Post) -> str:
    """The post's title, or its first words, or who wrote it."""
    return _short(post.title or post.text or f"post by {post.author or post.source_key}")


def _byline(post: Post) -> str:
    """[source, network, author] of a post."""
    return f"[{post.source_key}, {post.network}, {post.author or 'no author'}]"


def _story_lines(decision: Decision) -> list[str]:
    """The story's line with its score parts, then one line per merged post."""
    ranked = decision.ranked
    s, lead = ranked.score, ranked.story.lead
    standout = f" + standout {s.standout:.2f}" if s.standout else ""
    feedback = f" + feedback {s.feedback:.2f}" if s.feedback else ""
    parts = (
        f"{s.total:5.2f} = recency {s.recency:.2f} + engagement {s.engagement:.2f}{standout}"
        f" + shared {s.sharing:.2f} + boost {s.boost:.2f}{feedback} - spam {abs(s.spam):.2f}"
    )
    reason = decision.reason
    if s.spam_reasons:
        reason += f"; looks like spam ({', '.join(s.spam_reasons)})"
    if s.standing_out is not None:
        reason += f"; {s.standing_out.describe()}"
    lines = [
        f"{ranked.rank:>4}. {decision.placement.upper():<7} {parts}"
        f'  "{_headline(lead)}" {_byline(lead)}: {reason}'
    ]
    for post in ranked.story.posts[1:]:
        if post.is_repost:
            lines.append(f"        + reposted: {_byline(post)}")
        else:
            lines.append(f'        + same story: "{_headline(post)}" {_byline(post)}')
    return lines


def explain_lines(digest: Digest) -> list[str]:
    """What `pln digest --explain` prints for `digest`, line by line."""
    counts = dict.fromkeys(("entry", "also", "skipped"), 0)
    for decision in digest.decisions:
        counts[decision.placement] += 1
    start, end = (t.strftime("%Y-%m-%d %H:%M") for t in (digest.window_start, digest.window_end))
    budget = digest.recipient.reading_minutes * 60
    lines = [
        f"Digest for {digest.recipient.email}, {format_day(digest.local_day)}"
        f" (window {start} to {end} UTC)",
        f"{digest.candidate_count + len(digest.muted)} posts: {len(digest.muted)} muted,"
        f" {digest.candidate_count} candidates in {len(digest.decisions)} stories;"
        f" {counts['entry']} entries, {counts['also']} headlines, {counts['skipped']} skipped;"
        f" reading {digest.reading_seconds} s of {budget} s",
    ]
    for decision in digest.decisions:
        lines.extend(_story_lines(decision))
    for post, term in digest.muted:
        lines.append(f'   -  MUTED   "{_headline(post)}" {_byline(post)}: mute word "{term}"')
    return lines
