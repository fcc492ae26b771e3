"""A preview of any recipient's digest for any local day, with why it holds what it holds.

A future day shows what would be sent now, with the teacher's own choices
(send time, mute and boost words, "more / less like this") applied; a day
whose digest went out shows the copy that was sent; another past day shows
what its send time's window held, as `pln digest --date` builds it. The
explain rows are those of `pln digest --explain`, as a table.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from aggregator.app.archive import sent_digest
from aggregator.app.build import DAYS, build_digest, build_past_digest, render_digest
from aggregator.app.preferences import effective_recipient
from aggregator.app.wiring import App
from aggregator.domain.errors import PLNError
from aggregator.domain.recipient import RecipientConfig
from digests.compose import Digest
from digests.due import send_instant
from digests.explain import explain_lines


@dataclass(frozen=True, slots=True)
class ExplainRow:
    """One candidate story (or muted post) and what became of it."""

    rank: int | None
    placement: str
    """"entry", "also" (a headline), "skipped" or "muted"."""
    score: float | None
    title: str
    source: str
    reason: str


@dataclass(frozen=True, slots=True)
class Preview:
    """A recipient's digest for one local day, as HTML and text, and why.

    `built_at` is the instant it was built as of (aware UTC); `note` says in
    one sentence which digest this is (sent, or built now).
    """

    recipient: RecipientConfig
    day: date
    subject: str
    html: str
    text: str
    rows: tuple[ExplainRow, ...]
    explain: tuple[str, ...]
    built_at: datetime
    note: str


def local_today(recipient: RecipientConfig, now: datetime) -> date:
    """The recipient's local day at `now`."""
    return now.astimezone(ZoneInfo(recipient.timezone)).date()


def preview_digest(app: App, email: str, day: date) -> Preview:
    """The digest of the recipient with address `email` for their local `day`.

    Raises PLNError when there is no such recipient or no digest can be
    built for `day`.
    """
    configured = app.config.recipient(email)
    if configured is None:
        raise PLNError(f"no recipient {email}; add them to the recipients first")
    if not DAYS[0] <= day <= DAYS[1]:
        raise PLNError(f"pick a day from {DAYS[0].isoformat()} to {DAYS[1].isoformat()}")
    recipient = effective_recipient(app, configured)
    now = app.clock()
    planned = send_instant(recipient, day)
    if planned > now:
        at, note = now, "Not sent yet: this is what would be sent if it went out now."
    else:
        at, note = planned, "Built now from the posts of that day's window."
    digest = (
        build_digest(app, recipient, at) if at == now else build_past_digest(app, recipient, at)
    )
    subject, html, text = (
        digest.subject,
        render_digest(digest, "html"),
        render_digest(digest, "text"),
    )
    if at != now and (sent := sent_digest(app, recipient.email, day)) is not None:
        subject, html, text = sent.copy.subject, sent.copy.html, sent.copy.text
        note = (
            f"Sent {sent.sent_at:%Y-%m-%d %H:%M} UTC: this is the copy that went out; "
            "the explain rows are worked out again from the posts still stored."
        )
    return Preview(
        recipient=recipient,
        day=day,
        subject=subject,
        html=html,
        text=text,
        rows=explain_rows(digest),
        explain=tuple(explain_lines(digest)),
        built_at=at,
        note=note,
    )


def explain_rows(digest: Digest) -> tuple[ExplainRow, ...]:
    """`pln digest --explain` as rows: each story in rank order, muted posts last."""
    rows = []
    for decision in digest.decisions:
        ranked = decision.ranked
        lead = ranked.story.lead
        rows.append(
            ExplainRow(
                rank=ranked.rank,
                placement=decision.placement,
                score=round(ranked.score.total, 2),
                title=_title(lead.title or lead.text or lead.author),
                source=lead.source_key,
                reason=decision.reason,
            )
        )
    for post, term in digest.muted:
        reason = f'mute word "{term}"'
        rows.append(
            ExplainRow(
                None, "muted", None, _title(post.title or post.text), post.source_key, reason
            )
        )
    return tuple(rows)


def _title(text: str) -> str:
    line = " ".join(text.split())
    return line if len(line) <= 90 else line[:89] + "\u2026"


def default_day(recipient: RecipientConfig, now: datetime) -> date:
    """The day a preview shows first: the recipient's next digest day (today
    before their send time, tomorrow after it)."""
    today = local_today(recipient, now)
    return today if send_instant(recipient, today) > now else today + timedelta(days=1)
