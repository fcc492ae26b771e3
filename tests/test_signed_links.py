"""Signed links in digests: one purpose each, refused when altered, foreign or too old."""

from __future__ import annotations

from datetime import date

import pytest

from aggregator.app.links import FeedbackTarget, LinkSigner, Purpose, link_url
from aggregator.domain.errors import BadLink, ExpiredLink
from tests.fakes import FixedClock

SECRET = "a-web-secret-for-the-link-tests-0123456789"
ANA = "ana@school.org"


@pytest.fixture
def clock() -> FixedClock:
    return FixedClock()


@pytest.fixture
def signer(clock: FixedClock) -> LinkSigner:
    return LinkSigner(SECRET, clock)


def test_each_kind_of_link_names_what_it_was_made_for(signer: LinkSigner) -> None:
    target = FeedbackTarget(ANA, "blog", "https://blog.example/p?id=1")
    assert (
        signer.recipient_of(Purpose.UNSUBSCRIBE, signer.recipient_token(Purpose.UNSUBSCRIBE, ANA))
        == ANA
    )
    assert signer.recipient_of(Purpose.MANAGE, signer.recipient_token(Purpose.MANAGE, ANA)) == ANA
    assert signer.digest_of(signer.digest_token(ANA, date(2026, 11, 30))) == (
        ANA,
        date(2026, 11, 30),
    )
    assert signer.digest_of(signer.recipient_token(Purpose.ARCHIVE, ANA)) == (ANA, None)
    assert signer.feedback_of(signer.feedback_token(target)) == target


@pytest.mark.parametrize(
    "alter",
    [
        pytest.param(lambda t: t[:-1] + ("A" if t[-1] != "A" else "B"), id="signature"),
        pytest.param(lambda t: "e" + t[1:] if t[0] != "e" else "f" + t[1:], id="payload"),
        pytest.param(lambda t: t[: len(t) // 2], id="cut-short"),
        pytest.param(lambda t: "", id="empty"),
        pytest.param(lambda t: t + ".x", id="extra-part"),
    ],
)
def test_an_altered_link_is_refused(signer: LinkSigner, alter) -> None:  # type: ignore[no-untyped-def]
    token = signer.recipient_token(Purpose.UNSUBSCRIBE, ANA)
    with pytest.raises(BadLink, match="not valid"):
        signer.recipient_of(Purpose.UNSUBSCRIBE, alter(token))


def test_a_link_made_for_one_purpose_is_refused_for_another(signer: LinkSigner) -> None:
    manage = signer.recipient_token(Purpose.MANAGE, ANA)
    with pytest.raises(BadLink):
        signer.recipient_of(Purpose.UNSUBSCRIBE, manage)
    with pytest.raises(BadLink):
        signer.digest_of(manage)
    # Same salt, another shape: a feedback payload is no digest.
    feedback = signer.feedback_token(FeedbackTarget(ANA, "blog", "1"))
    with pytest.raises(BadLink):
        signer.recipient_of(Purpose.FEEDBACK, feedback)


def test_a_link_signed_with_another_secret_is_refused(clock: FixedClock) -> None:
    token = LinkSigner("another-secret-entirely-9876543210", clock).recipient_token(
        Purpose.UNSUBSCRIBE, ANA
    )
    with pytest.raises(BadLink):
        LinkSigner(SECRET, clock).recipient_of(Purpose.UNSUBSCRIBE, token)


def test_links_that_change_a_digest_expire_and_the_others_do_not(
    signer: LinkSigner, clock: FixedClock
) -> None:
    feedback = signer.feedback_token(FeedbackTarget(ANA, "blog", "1"))
    manage = signer.recipient_token(Purpose.MANAGE, ANA)
    unsubscribe = signer.recipient_token(Purpose.UNSUBSCRIBE, ANA)
    archive = signer.digest_token(ANA, date(2026, 11, 30))
    clock.advance(days=89)
    assert signer.feedback_of(feedback).email == ANA
    clock.advance(days=2)
    with pytest.raises(ExpiredLink, match="latest digest"):
        signer.feedback_of(feedback)
    clock.advance(days=5 * 365)
    with pytest.raises(ExpiredLink):
        signer.recipient_of(Purpose.MANAGE, manage)
    assert signer.recipient_of(Purpose.UNSUBSCRIBE, unsubscribe) == ANA
    assert signer.digest_of(archive)[0] == ANA


def test_a_link_names_no_url_so_it_survives_a_new_public_url(signer: LinkSigner) -> None:
    token = signer.recipient_token(Purpose.MANAGE, ANA)
    old = link_url("https://old.school.org/pln/", Purpose.MANAGE, token)
    new = link_url("https://digest.school.org", Purpose.MANAGE, token)
    assert old == f"https://old.school.org/pln/m/{token}"
    assert new.rsplit("/", 1)[1] == old.rsplit("/", 1)[1]
    assert signer.recipient_of(Purpose.MANAGE, new.rsplit("/", 1)[1]) == ANA


def test_the_secret_never_shows(signer: LinkSigner) -> None:
    assert SECRET not in repr(signer)
