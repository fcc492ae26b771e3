"""Facebook group notification emails, recognised and read as group posts.

Meta stopped serving group feeds to apps in April 2024 (docs/api-notes.md
§2), so schools follow groups by having Facebook email each new post to
the mailbox. Such a message comes from `notification@facebookmail.com` and
links to the post as `https://www.facebook.com/groups/<group>/posts/<post>/`;
its subject names the group ("New post in Science Teachers Network", "Maria
Lopez posted in Science Teachers Network").
"""

from __future__ import annotations

import html as _html
import re
from dataclasses import dataclass

from connectors.email_inbox.mime import Mail
from connectors.sanitize import sanitize_html

__all__ = ["FacebookNotice", "find_group_notice"]

_POST_LINK = re.compile(
    r"https?://(?:www\.|m\.|web\.)?facebook\.com/groups/([A-Za-z0-9.]+)/(?:posts|permalink)/(\d+)",
    re.I,
)
_GROUP_IN_SUBJECT = (
    re.compile(r"^\[(?P<group>[^\]]+)\]"),
    re.compile(
        r"^(?:new (?:post|activity)|(?P<poster>.+?) (?:posted|commented|replied|shared \w+))"
        r" in (?P<group>.+?)\.?$",
        re.I,
    ),
)
_POSTED_IN = re.compile(r"^(?P<poster>.+?) posted in (?P<group>.+?)\.?$", re.I)
_LIST_PHRASE = re.compile(r'^\s*"?([^"<]+?)"?\s*<')
_FOOTER = re.compile(r"^(view post|view on facebook|see post|reply|like|comment|share)\b", re.I)
_TIMESTAMP = re.compile(
    r"^(?:just now|yesterday|today|\d+\s*(?:min|mins|minutes?|h|hrs?|hours?) ago|"
    r"\w+ \d{1,2}(?:, \d{4})? at \d{1,2}:\d{2}\s*(?:am|pm)?)$",
    re.I,
)
_BLOCK = re.compile(r"</?(?:p|br|li|h[1-6]|tr|td|th|div|blockquote|table)\b[^>]*>", re.I)
_TAG = re.compile(r"<[^>]*>")
_MAX_TITLE = 200


@dataclass(frozen=True, slots=True)
class FacebookNotice:
    """What a group notification says: the group, the post's permalink
    (query and tracking removed), its first line and its text."""

    group_name: str
    group_id: str
    post_url: str
    title: str
    text: str


def find_group_notice(mail: Mail, links: tuple[str, ...]) -> FacebookNotice | None:
    """The group post a Facebook notification announces, or None when the
    message is not one (another sender, or no group post link)."""
    domain = mail.envelope.sender_address.rpartition("@")[2]
    if domain != "facebookmail.com" and not domain.endswith(".facebookmail.com"):
        return None
    candidates = (*links, *(m.group(0) for m in _POST_LINK.finditer(mail.text)))
    match = next((m for m in map(_POST_LINK.match, candidates) if m), None)
    if match is None:
        return None
    group_id, post_id = match.group(1), match.group(2)
    lines = _lines(mail)
    group, poster = _names(mail, lines)
    group = group or f"Facebook group {group_id}"
    body = _post_lines(lines, group, poster)
    text = "\n".join(body) + (f"\n\n— {poster}" if poster else "")
    title = body[0] if body else ""
    return FacebookNotice(
        group_name=group,
        group_id=group_id,
        post_url=f"https://www.facebook.com/groups/{group_id}/posts/{post_id}/",
        title=title if len(title) <= _MAX_TITLE else title[: _MAX_TITLE - 1].rstrip() + "…",
        text=text.strip(),
    )


def _lines(mail: Mail) -> list[str]:
    """The message's text, line by line (the plain part, else the HTML's)."""
    if mail.text.strip():
        source = mail.text
    else:
        source = _html.unescape(_TAG.sub("", _BLOCK.sub("\n", sanitize_html(mail.html))))
    return [" ".join(line.split()) for line in source.splitlines()]


def _names(mail: Mail, lines: list[str]) -> tuple[str, str]:
    """(group name, poster name) from the subject, a "X posted in Y" line,
    or the List-Id's phrase; "" where none says."""
    group = poster = ""
    for pattern in _GROUP_IN_SUBJECT:
        found = pattern.match(mail.envelope.subject.strip())
        if found:
            group, poster = found.group("group"), found.groupdict().get("poster") or ""
            break
    posted = next((m for m in map(_POSTED_IN.match, lines) if m), None)
    if posted:
        group, poster = group or posted.group("group"), poster or posted.group("poster")
    listed = _LIST_PHRASE.match(mail.envelope.list_id)
    if not group and listed:
        group = listed.group(1)
    return group.strip(), poster.strip()


def _post_lines(lines: list[str], group: str, poster: str) -> list[str]:
    """The lines of the post itself: before "View post", without the
    notification's own header lines (group, poster, time, bare links)."""
    end = next((i for i, line in enumerate(lines) if _FOOTER.match(line)), len(lines))
    chrome = {group.lower(), poster.lower(), "facebook"}
    body = []
    for line in lines[:end]:
        if (
            not line
            or line.lower() in chrome
            or _POSTED_IN.match(line)
            or _TIMESTAMP.match(line)
            or _POST_LINK.match(line)
        ):
            continue
        body.append(line)
    return body
