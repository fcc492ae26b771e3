"""Display names are plain text on every network: kept as written, never
stripped as if they were HTML (templates escape them wherever they show)."""

from __future__ import annotations

from datetime import UTC, datetime

from connectors.bluesky.post import to_post as bluesky_post
from connectors.mastodon.post import to_posts as mastodon_posts

NOW = datetime(2026, 12, 1, tzinfo=UTC)
NAME = "Ms Ruiz <canvas> & <b>code</b>"


def test_a_mastodon_display_name_is_kept_as_written() -> None:
    status = {
        "id": "1",
        "uri": "https://social.example/users/ruiz/statuses/1",
        "url": "https://social.example/@ruiz/1",
        "created_at": "2026-11-30T10:00:00Z",
        "content": "<p>Hello</p>",
        "spoiler_text": "a <b>spoiler</b>",
        "account": {"acct": "ruiz", "username": "ruiz", "display_name": NAME},
    }

    (post,), skipped = mastodon_posts([status], "tag", "social.example", NOW)

    assert skipped == 0
    assert post.author == f"{NAME} (@ruiz@social.example)"
    assert "a <b>spoiler</b>" in post.text


def test_a_bluesky_display_name_is_kept_as_written() -> None:
    view = {
        "uri": "at://did:plc:x/app.bsky.feed.post/abc",
        "author": {"handle": "ruiz.bsky.social", "displayName": NAME},
        "record": {"text": "Hello", "createdAt": "2026-11-30T10:00:00Z"},
    }

    post = bluesky_post(view, "search", NOW)

    assert post.author == f"{NAME} (@ruiz.bsky.social)"
