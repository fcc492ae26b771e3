"""What a post is about, as keys: worked out from its content, or read as stored."""

from __future__ import annotations

import functools
import hashlib
import zlib
from dataclasses import replace
from datetime import UTC, datetime

from hypothesis import given, settings
from hypothesis import strategies as st

from aggregator.domain import story
from aggregator.domain.post import Post
from aggregator.domain.spam import spam_signals
from aggregator.domain.story import (
    BANDS,
    MATCH_WORDS,
    ROWS,
    clean_words,
    keys_of,
    page_url,
    signature_bands,
    signature_digest,
    signature_words,
    story_keys,
    story_keys_of,
    text_signature,
    text_signature_of,
    with_keys,
    word_hashes,
    word_minhashes,
)

ANNOUNCEMENT = (
    "Our district science fair is open to every middle school this year: "
    "registration closes Friday, judges still needed for Saturday morning."
)


def make_post(**changes: object) -> Post:
    post = Post(
        source_key="edchat",
        external_id="1",
        network="mastodon",
        url="https://mastodon.social/@cy/222?utm_source=feed",
        author="Cy",
        title=None,
        text=ANNOUNCEMENT,
        html="",
        published_at=datetime(2026, 11, 30, 12, 0, tzinfo=UTC),
        links=(
            "https://www.edutopia.org/article/retrieval/?utm_campaign=x&fbclid=y#top",
            "https://mastodon.social/tags/edchat",
            "https://x.com/edutopia",
        ),
    )
    return replace(post, **changes)  # type: ignore[arg-type]


def test_with_keys_works_out_what_the_digests_need() -> None:
    keyed = with_keys(make_post(text="GIVEAWAY! " + ANNOUNCEMENT))
    assert keyed.canonical_url == "https://mastodon.social/@cy/222"
    # A tag page and a profile are not stories; tracking and fragments go.
    assert keyed.story_keys == (
        "https://edutopia.org/article/retrieval",
        "https://mastodon.social/@cy/222",
    )
    assert spam_signals(keyed) == ("giveaway",)
    assert text_signature(keyed) == text_signature_of("", keyed.text)
    assert keyed == make_post(text=keyed.text)  # derived values take no part in equality


def test_a_declared_canonical_url_wins_and_both_are_keys() -> None:
    post = make_post(canonical_url="http://blog.example/post/", links=())
    assert with_keys(post).canonical_url == "https://blog.example/post"
    assert with_keys(post).story_keys == (
        "https://blog.example/post",
        "https://mastodon.social/@cy/222",
    )
    assert page_url("mailto:a@b.example") == ""


def test_stored_story_keys_are_read_not_worked_out_again() -> None:
    stored = make_post(story_keys=("https://k.example/1",))
    assert story_keys(stored) == ("https://k.example/1",)
    fresh = make_post()
    assert story_keys(fresh) == with_keys(fresh).story_keys


def test_signature_parts() -> None:
    signature = text_signature_of("", ANNOUNCEMENT)
    shouted = text_signature_of("", ANNOUNCEMENT.upper() + " #edchat https://t.example/x")
    assert signature == shouted  # case, hashtags and links set aside
    assert len(signature_digest(signature)) == 32
    assert signature_words(signature) == 21
    assert [band for band, _ in signature_bands(signature)] == list(range(BANDS))
    assert text_signature_of("Great", "post!") == ""
    assert signature_bands("") == [] and signature_digest("") == "" and signature_words("") == 0


def _all_words(title: str, text: str) -> list[str]:
    """The rule `clean_words` follows, on the whole text at once."""
    return story._WORD.findall(story._NOISE.sub(" ", f"{title} {text}").lower())[:MATCH_WORDS]


# Mostly plain words, so that many texts reach MATCH_WORDS words past the
# point where `clean_words` stops reading, with links, mentions, long
# tokens and other whitespace around that point.
_TOKENS = st.sampled_from(
    ["word", "Lesson", "x,y,z", "é", "İ"] * 4
    + ["http://a.example/x", "@ana@m.social", "#edchat", "a" * 40]
)
_SPACES = st.sampled_from([" "] * 6 + ["\n", "\u00a0", "\u2003", "", "-", "/"])


@settings(max_examples=300, deadline=None)
@given(st.lists(st.tuples(_TOKENS, _SPACES), min_size=300, max_size=1600), st.integers(0, 3))
def test_clean_words_of_a_long_text_are_those_of_the_whole_text(parts, cut) -> None:
    text = "".join(token + space for token, space in parts)[cut:]
    assert clean_words("Title", text) == _all_words("Title", text)


def test_clean_words_of_a_text_without_whitespace_or_few_words() -> None:
    for text in ("a," * 5000, "http://x.example/" + "a" * 9000 + " then words", "x " * 5000):
        assert clean_words("", text) == _all_words("", text)


# Signatures as this module has always made them: a change to how they are
# worked out must not change them (golden digests rely on the grouping).
PINNED = {
    ANNOUNCEMENT: "ffb03720b4a3e7714d7e0974fc2238ac00153929b7bbd0688349750138609fa0f72efa5f38b5"
    "00fbd78b49f4914447aaf0306b3e0bbd0628dd9a",
    "the a an and are as at": "76ec1b030c057bfc148f89a609e78b620007ca3cf9ebfc482e81fec7c1ce"
    "b48107d223a7b28adebd1dd409a3e496d2b8fd362f2a3496b66e7cc1",
}


def test_signatures_do_not_change_whoever_gives_the_words_minhashes() -> None:
    remembered = functools.lru_cache(maxsize=4)(word_hashes)
    for text, signature in PINNED.items():
        assert text_signature_of("", text) == signature
        assert text_signature_of("", text, remembered) == signature
    assert len(word_minhashes(12345)) == BANDS * ROWS


_URLS = st.sampled_from(
    [
        "",
        "mailto:a@b.example",
        "/relative/path",
        "https://blog.example/post/",
        "http://www.blog.example/post?utm_source=x",
        "https://x.com/edutopia",
        "https://twitter.com/edutopia/status/1",
        "https://mastodon.social/tags/edchat",
        "https://youtu.be/abc?t=3",
        "https://shared.example/",
        "https://m.shared.example/articles/9#top",
    ]
)


@settings(max_examples=300, deadline=None)
@given(_URLS, _URLS, st.lists(_URLS, max_size=4))
def test_keys_of_canonicalises_each_url_once_to_the_same_keys(url, declared, links) -> None:
    keys = keys_of(url=url, declared_url=declared, links=links)
    assert keys.canonical_url == page_url(url, declared)
    assert keys.story_keys == story_keys_of((declared, url, *links))


def reference_signature(words: list[str]) -> str:
    """A signature as first written: every word's values compared in every row."""
    if len(words) < story.MIN_TEXT_WORDS:
        return ""
    hashes = {zlib.crc32(word.encode()) for word in set(words) - story._STOP_WORDS} or {0}
    mins = list(map(min, zip(*map(word_minhashes, hashes), strict=True)))
    bands = []
    for band in range(BANDS):
        rows = b"".join(m.to_bytes(8, "big") for m in mins[band * ROWS : (band + 1) * ROWS])
        bands.append(hashlib.blake2b(rows, digest_size=8).hexdigest())
    digest = hashlib.blake2b(" ".join(words).encode(), digest_size=16).hexdigest()
    return digest + f"{len(words):04x}" + "".join(bands)


_WORDS = st.lists(
    st.sampled_from(sorted(story._STOP_WORDS))
    | st.sampled_from([f"w{n}" for n in range(40)])
    | st.text(min_size=1, max_size=8),
    max_size=MATCH_WORDS,
)


@settings(max_examples=300)
@given(_WORDS)
def test_signatures_are_those_of_every_value_compared(words) -> None:
    assert story.signature_of_words(words) == reference_signature(words)


def test_a_text_of_few_words_has_rows_without_low_values() -> None:
    words = ["alpha", "beta", "gamma", "delta", "epsilon", "zeta"]
    rows = {row for word in words for row, _ in word_hashes(word)[1]}
    assert len(rows) < BANDS * ROWS  # the others are compared in full
    assert story.signature_of_words(words) == reference_signature(words)
    assert story.signature_of_words(["the"] * 6) == reference_signature(["the"] * 6)


@given(st.text(max_size=300))
def test_clean_words_are_those_of_every_link_mention_and_hashtag_removed(text) -> None:
    assert story._clean(text) == story._WORD.findall(story._NOISE.sub(" ", text).lower())


@given(
    st.lists(
        st.sampled_from(["http://a.example/x", "https://b.example", "@cy", "#edchat", "a@b", "#"])
        | st.sampled_from(["lesson", " ", "\n", "://", "x#y", "é"]),
        max_size=30,
    )
)
def test_clean_words_of_texts_with_links_mentions_and_hashtags(parts) -> None:
    text = "".join(parts)
    assert story._clean(text) == story._WORD.findall(story._NOISE.sub(" ", text).lower())
