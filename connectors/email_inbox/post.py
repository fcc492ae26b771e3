"""One email message turned into a `Post` (network "email").

A newsletter becomes a post by its sender; a Facebook group notification
(`connectors.email_inbox.facebook`) becomes a post of its group. All HTML goes
through `connectors.sanitize.sanitize_html` (scripts, handlers, non-web
links and 1x1 tracking pixels removed); unsubscribe links are unwrapped
so a digest reader cannot unsubscribe the school's mailbox.
"""

from __future__ import annotations

import hashlib
import html as _html
import re
from datetime import datetime

from aggregator.domain.post import Post
from connectors.email_inbox.facebook import FacebookNotice, find_group_notice
from connectors.email_inbox.mime import Mail, read_message
from connectors.sanitize import html_to_text, one_line, plain_text, sanitize_html

__all__ = ["anchors", "message_to_post", "text_to_html"]

# nh3 writes every attribute as name="value", and never nests <a>.
_ANCHOR = re.compile(r"<a\s([^>]*)>(.*?)</a>", re.S)
_HREF = re.compile(r'\bhref="([^"]*)"')
_TAG = re.compile(r"<[^>]*>")
_URL = re.compile(r"https?://[^\s<>\"'\]]+", re.I)
_VIEW_ONLINE = re.compile(
    r"\b(view|read|open|see)\b.{0,25}\b(browser|online|on the web|web version)\b|"
    r"\bweb version\b",
    re.I | re.S,
)
# Newsletters hide a "preheader" (the inbox preview line) with CSS, and size
# some tracking pixels in CSS only; the sanitiser drops `style`, so both would
# show. Removing content before sanitising adds nothing it could miss.
_HIDDEN = re.compile(
    r"<(span|div|p|td)\b[^>]*style=\"[^\"]*display\s*:\s*none[^\"]*\"[^>]*>[^<]*</\1>", re.I
)
_CSS_PIXEL = re.compile(
    r"<img\b[^>]*style=\"[^\"]*\b(?:width|height)\s*:\s*[01]px[^\"]*\"[^>]*>", re.I
)
_UNSUBSCRIBE = re.compile(
    r"unsubscribe|opt[ -]?out|(update|manage|change)\b.{0,20}\b(preferences|subscription)",
    re.I | re.S,
)


def message_to_post(raw: bytes, source_key: str, fallback_id: str, now: datetime) -> Post:
    """Build the post for raw message bytes.

    `fallback_id` ("<uidvalidity>:<uid>") is the external id when the
    message has no Message-ID; `now` (aware UTC) stands in for a missing
    date and caps a future one. Raises UnreadableMessage (a ValueError)
    when the bytes are not an email.
    """
    mail = read_message(raw)
    html = _clean_html(mail.html) if mail.html else sanitize_html(text_to_html(mail.text))
    links = _links(html)
    notice = find_group_notice(mail, links)
    if notice is not None:
        return _group_post(mail, notice, source_key, now)
    env = mail.envelope
    return Post(
        source_key=source_key,
        external_id=env.message_id or fallback_id,
        network="email",
        url=_view_online(html) or (links[0] if links else ""),
        author=_author(env.sender_name, env.sender_address),
        title=one_line(env.subject) or None,  # RFC 5322 unstructured: plain text
        text=html_to_text(html, is_sanitized=True),
        html=html,
        published_at=min(env.date or now, now),
        language=env.language,
        links=links,
        content_hash=_digest(env.subject, mail.html, mail.text),
    )


def _group_post(mail: Mail, notice: FacebookNotice, source_key: str, now: datetime) -> Post:
    """A Facebook group post, keyed on its permalink so a second
    notification of the same post does not make a second post."""
    html = sanitize_html(text_to_html(notice.text))
    text = html_to_text(html, is_sanitized=True)
    return Post(
        source_key=source_key,
        external_id=notice.post_url,
        network="email",
        url=notice.post_url,
        author=notice.group_name,
        author_url=f"https://www.facebook.com/groups/{notice.group_id}/",
        title=notice.title or None,
        text=text,
        html=html,
        published_at=min(mail.envelope.date or now, now),
        hashtags=("facebook-group",),
        links=tuple(dict.fromkeys((notice.post_url, *_links(html)))),
        content_hash=_digest(notice.post_url, notice.group_name, notice.text),
    )


def text_to_html(text: str) -> str:
    """Plain text as HTML: escaped, http(s) URLs made links, blank-line
    separated paragraphs, line breaks kept. The caller sanitises it."""
    paragraphs = (p.strip() for p in re.split(r"\n\s*\n", text.replace("\r\n", "\n")))
    return "".join(
        "<p>" + "<br>".join(map(_linkify, p.split("\n"))) + "</p>" for p in paragraphs if p
    )


def _linkify(line: str) -> str:
    out, end = [], 0
    for match in _URL.finditer(line):
        url = match.group(0).rstrip(".,;:!?")
        if url.endswith(")") and "(" not in url:
            url = url[:-1]  # "(see https://x.org/a)": the parenthesis is prose
        out += [_html.escape(line[end : match.start()]), _anchor(url)]
        end = match.start() + len(url)
    out.append(_html.escape(line[end:]))
    return "".join(out)


def _anchor(url: str) -> str:
    escaped = _html.escape(url)
    return f'<a href="{escaped}">{escaped}</a>'


def _clean_html(raw_html: str) -> str:
    """Sanitised HTML without hidden text and pixels, with unsubscribe and
    preference links turned into text."""
    html = sanitize_html(_CSS_PIXEL.sub("", _HIDDEN.sub("", raw_html)))

    def unwrap(match: re.Match[str]) -> str:
        href = _HREF.search(match.group(1))
        target = _html.unescape(href.group(1)) if href else ""
        label = _html.unescape(_TAG.sub("", match.group(2)))
        return match.group(2) if _UNSUBSCRIBE.search(f"{target} {label}") else match.group(0)

    return _ANCHOR.sub(unwrap, html)


def anchors(html: str) -> list[tuple[str, str]]:
    """(href, text) of each link in sanitised HTML, both unescaped, in order."""
    found = []
    for attrs, inner in _ANCHOR.findall(html):
        href = _HREF.search(attrs)
        if href:
            label = " ".join(_html.unescape(_TAG.sub(" ", inner)).split())
            found.append((_html.unescape(href.group(1)), label))
    return found


def _links(html: str) -> tuple[str, ...]:
    """Distinct http(s) link targets, in order."""
    web = (href for href, _ in anchors(html) if href.lower().startswith(("http://", "https://")))
    return tuple(dict.fromkeys(web))


def _view_online(html: str) -> str:
    """The "View this email in your browser" link, if the message has one."""
    for href, label in anchors(html):
        if href.lower().startswith(("http://", "https://")) and _VIEW_ONLINE.search(label):
            return href
    return ""


def _author(name: str, address: str) -> str:
    """The sender as a byline: their name and their address's domain, which
    shows where a message really came from ("Facebook (phish.example)"). A
    byline is shown to every reader, so it never carries the address itself."""
    name = plain_text(name)
    domain = address.rpartition("@")[2].lower()
    if name and "@" not in name and domain:
        return f"{name} ({domain})"
    return (name if "@" not in name else "") or domain


def _digest(*parts: str) -> str:
    joined = "\x1f".join(parts)  # unit separator: field boundaries stay visible
    return hashlib.sha256(joined.encode("utf-8", "surrogatepass")).hexdigest()
