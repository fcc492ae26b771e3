"""X API v2 tweets (JSON dicts of one `XPage`) turned into `Post`s.

A retweet is stored twice over: its original (from `includes.tweets`)
once, under its own id, and the retweet itself as a repost of it (no text,
no counts: its `public_metrics` are the original's), so that the retweeter
counts among those who shared it. A quote is a post of its own words that
links the quoted tweet. The text is X's `text` (or
`note_tweet.text` for long posts) with HTML entities decoded, t.co links
replaced by their expanded URL, and links to the tweet itself (media,
"show more") removed. An edited tweet keeps the first id of its edit history
as `external_id`, so it updates one post. docs/api-notes.md §1.
"""

from __future__ import annotations

import hashlib
import html as _html
import logging
import re
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from aggregator.domain.post import Engagement, Post
from connectors.sanitize import sanitize_html
from connectors.twitter.api import JSON, XPage

__all__ = ["PageResult", "page_posts", "snowflake_time"]

log = logging.getLogger(__name__)

_TWITTER_EPOCH_MS = 1288834974657  # snowflake ids count milliseconds from here
_STATUS = re.compile(r"^https?://(?:www\.|mobile\.)?(?:twitter|x)\.com/[^/]+(?:/web)?/status/(\d+)")
_URL = re.compile(r"https?://[^\s<>\"]+")
# X's pseudo-languages: undetermined, no text, media/hashtags/mentions only...
_NOT_A_LANGUAGE = frozenset({"und", "zxx", "art"})


@dataclass(frozen=True, slots=True)
class PageResult:
    """The posts of one page, and how many tweets were malformed and skipped."""

    posts: tuple[Post, ...]
    malformed: int = 0


def snowflake_time(tweet_id: str) -> datetime:
    """When a tweet id was made (aware UTC); ids encode their creation time."""
    return datetime.fromtimestamp(((int(tweet_id) >> 22) + _TWITTER_EPOCH_MS) / 1000, UTC)


def page_posts(source_key: str, page: XPage, now: datetime) -> PageResult:
    """The posts of `page`, one per `external_id` (the newest edit wins);
    a retweet gives its original and a repost of it. Malformed tweets are
    counted, not raised."""
    found: dict[str, tuple[int, Post]] = {}
    malformed = 0
    for wrapper in page.tweets:
        if not _well_formed(wrapper):
            malformed += 1
            continue
        tweet = _original(wrapper, page)
        if tweet is None:
            continue
        post = to_post(source_key, tweet, page, now)
        posts = [(int(tweet["id"]), post)]
        if tweet is not wrapper:
            posts.append((int(wrapper["id"]), to_repost(source_key, wrapper, post, page, now)))
        for rank, each in posts:
            if each.external_id not in found or found[each.external_id][0] < rank:
                found[each.external_id] = (rank, each)
    return PageResult(tuple(post for _, post in found.values()), malformed)


def _well_formed(tweet: object) -> bool:
    return (
        isinstance(tweet, dict)
        and isinstance(tweet.get("id"), str)
        and tweet["id"].isdigit()
        and isinstance(tweet.get("text"), str)
    )


def _references(tweet: JSON, kind: str) -> list[str]:
    refs = tweet.get("referenced_tweets")
    if not isinstance(refs, list):
        return []
    return [str(r.get("id")) for r in refs if isinstance(r, dict) and r.get("type") == kind]


def _original(tweet: JSON, page: XPage) -> JSON | None:
    """The tweet to store: `tweet`, or the original it retweets (None when
    X did not include it: deleted, protected or withheld)."""
    retweeted = _references(tweet, "retweeted")
    if not retweeted:
        return tweet
    original = page.included.get(retweeted[0])
    if original is None or not _well_formed(original):
        log.debug("retweet %s: original %s not included, skipped", tweet["id"], retweeted[0])
        return None
    return original


def to_post(source_key: str, tweet: JSON, page: XPage, now: datetime) -> Post:
    """One well-formed tweet as a `Post` (network "twitter")."""
    tweet_id = str(tweet["id"])
    user = page.users.get(str(tweet.get("author_id")), {})
    username = str(user.get("username") or "")
    text, entities = _content(tweet)
    own_ids = {tweet_id, *_edit_history(tweet)}
    text, links = _expand(text, entities, own_ids)
    quoted = _quoted(tweet, page, links)
    link_list = links + ((quoted[0],) if quoted and quoted[0] not in links else ())
    return Post(
        source_key=source_key,
        external_id=(_edit_history(tweet) or [tweet_id])[0],
        network="twitter",
        url=_permalink(username, tweet_id),
        author=_author(user),
        title=None,
        text=text,
        html=_html_of(text, quoted),
        published_at=min(_created(tweet), now),
        engagement=_engagement(tweet),
        image_url=_image(tweet, page),
        hashtags=_hashtags(entities),
        language=_language(tweet.get("lang")),
        links=link_list,
        content_hash=_fingerprint(tweet, text),
        author_url=f"https://x.com/{username}" if username else "",
    )


def to_repost(source_key: str, retweet: JSON, original: Post, page: XPage, now: datetime) -> Post:
    """A well-formed retweet as its author's repost of `original` (its Post)."""
    user = page.users.get(str(retweet.get("author_id")), {})
    username = str(user.get("username") or "")
    return Post(
        source_key=source_key,
        external_id=str(retweet["id"]),
        network="twitter",
        url=original.url,
        author=_author(user),
        title=None,
        text="",
        html="",
        published_at=min(_created(retweet), now),
        content_hash=hashlib.sha256(f"retweet\x1f{retweet['id']}".encode()).hexdigest(),
        author_url=f"https://x.com/{username}" if username else "",
        repost_of=original.url,
    )


def _edit_history(tweet: JSON) -> list[str]:
    ids = tweet.get("edit_history_tweet_ids")
    return [str(i) for i in ids if str(i).isdigit()] if isinstance(ids, list) else []


def _content(tweet: JSON) -> tuple[str, JSON]:
    """The full text (a long post's `note_tweet`) and the entities that go with it."""
    note = tweet.get("note_tweet")
    if isinstance(note, dict) and isinstance(note.get("text"), str) and note["text"]:
        entities = note.get("entities")
        return note["text"], entities if isinstance(entities, dict) else {}
    entities = tweet.get("entities")
    return str(tweet["text"]), entities if isinstance(entities, dict) else {}


def _expand(text: str, entities: JSON, own_ids: set[str]) -> tuple[str, tuple[str, ...]]:
    """`text` with t.co links expanded (links to the tweet itself removed),
    and the distinct http(s) links shared."""
    text = _html.unescape(text)  # X escapes &, < and > in `text`
    links: list[str] = []
    urls = entities.get("urls")
    for entity in urls if isinstance(urls, list) else []:
        if not isinstance(entity, dict) or not isinstance(entity.get("url"), str):
            continue
        expanded = str(entity.get("expanded_url") or "")
        status = _STATUS.match(expanded)
        is_self = "media_key" in entity or (status is not None and status.group(1) in own_ids)
        if is_self or not expanded.startswith(("http://", "https://")):
            text = text.replace(entity["url"], "" if is_self else entity["url"])
            continue
        text = text.replace(entity["url"], expanded)
        links.append(expanded)
    return text.strip(), tuple(dict.fromkeys(links))


def _quoted(tweet: JSON, page: XPage, links: tuple[str, ...]) -> tuple[str, str, str] | None:
    """(permalink, author, text) of the tweet this one quotes, or None."""
    quoted_ids = _references(tweet, "quoted")
    if not quoted_ids:
        return None
    quoted = page.included.get(quoted_ids[0], {})
    user = page.users.get(str(quoted.get("author_id")), {})
    permalink = _permalink(str(user.get("username") or ""), quoted_ids[0])
    for link in links:  # the quoting text usually links it already
        status = _STATUS.match(link)
        if status is not None and status.group(1) == quoted_ids[0]:
            permalink = link
    text = ""
    if _well_formed(quoted):
        text, _ = _expand(*_content(quoted), {quoted_ids[0], *_edit_history(quoted)})
    return permalink, _author(user), text


def _permalink(username: str, tweet_id: str) -> str:
    # x.com resolves /i/web/status/ID when the author is not known.
    return f"https://x.com/{username or 'i/web'}/status/{tweet_id}"


def _author(user: JSON) -> str:
    name = " ".join(str(user.get("name") or "").split())
    username = str(user.get("username") or "")
    if name and username:
        return f"{name} (@{username})"
    return name or (f"@{username}" if username else "")


def _html_of(text: str, quoted: tuple[str, str, str] | None) -> str:
    """Escaped text with its URLs linked and line breaks kept, plus the
    quoted tweet as a blockquote; sanitised."""
    body = _linkify(text)
    if quoted is not None:
        permalink, author, quoted_text = quoted
        who = _html.escape(author or "a post on X")
        body += (
            f'<blockquote><p>{_linkify(quoted_text)}</p><p>— <a href="'
            f'{_html.escape(permalink)}">{who}</a></p></blockquote>'
        )
    return sanitize_html(body)


def _linkify(text: str) -> str:
    parts: list[str] = []
    last = 0
    for match in _URL.finditer(text):
        url = _html.escape(match.group())
        parts += [_html.escape(text[last : match.start()]), f'<a href="{url}">{url}</a>']
        last = match.end()
    parts.append(_html.escape(text[last:]))
    return "".join(parts).replace("\n", "<br>")


def _created(tweet: JSON) -> datetime:
    """`created_at` (ISO 8601, UTC), else the time in the tweet's id."""
    value = tweet.get("created_at")
    try:
        when = datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    except ValueError:
        return snowflake_time(str(tweet["id"]))
    if when.tzinfo is None:
        return when.replace(tzinfo=UTC)
    return when.astimezone(UTC)


def _engagement(tweet: JSON) -> Engagement:
    metrics = tweet.get("public_metrics")
    if not isinstance(metrics, dict):
        return Engagement()

    def count(name: str) -> int:
        value = metrics.get(name)
        return value if isinstance(value, int) and value > 0 else 0

    return Engagement(
        likes=count("like_count"),
        reposts=count("retweet_count"),
        replies=count("reply_count"),
        quotes=count("quote_count"),
    )


def _image(tweet: JSON, page: XPage) -> str | None:
    """The first attached photo, or a video's / GIF's preview image."""
    attachments = tweet.get("attachments")
    keys = attachments.get("media_keys") if isinstance(attachments, dict) else None
    for key in keys if isinstance(keys, list) else []:
        media = page.media.get(str(key), {})
        url = media.get("url") or media.get("preview_image_url")
        if isinstance(url, str) and url.startswith(("https://", "http://")):
            return url
    return None


def _hashtags(entities: JSON) -> tuple[str, ...]:
    tags = entities.get("hashtags")
    if not isinstance(tags, list):
        return ()
    found = (str(t.get("tag", "")).lower() for t in tags if isinstance(t, dict))
    return tuple(dict.fromkeys(tag for tag in found if tag))


def _language(lang: Any) -> str | None:
    if not isinstance(lang, str) or not lang or lang in _NOT_A_LANGUAGE:
        return None
    if len(lang) == 3 and lang.startswith("q"):  # qme, qht, qam, qct, qst: X's own codes
        return None
    return lang


def _fingerprint(tweet: JSON, text: str) -> str:
    """Changes when the text, an edit or a count changes."""
    metrics = tweet.get("public_metrics")
    counts = sorted(metrics.items()) if isinstance(metrics, dict) else []
    parts = (str(tweet["id"]), text, repr(counts))
    return hashlib.sha256("\x1f".join(parts).encode("utf-8", "surrogatepass")).hexdigest()
