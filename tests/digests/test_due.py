"""What is due: local send times, days already recorded, lateness."""

from __future__ import annotations

from datetime import date, datetime, timedelta, timezone

from aggregator.models import RecipientConfig
from digests.due import due_digests, send_instant

ANA = RecipientConfig(email="ana@school.example", timezone="America/Chicago", send_at="06:30")
LUIS = RecipientConfig(email="luis@school.example", timezone="Europe/London", send_at="07:00")


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=timezone.utc)


def test_a_digest_is_due_once_the_local_send_time_has_passed() -> None:
    # 12:20 UTC on 30 Nov is 06:20 in Chicago (not yet) and 12:20 in London (late).
    due, missed = due_digests(utc(2026, 11, 30, 12, 20), [ANA, LUIS], {})
    assert (due, [m.recipient.email for m in missed]) == ([], ["luis@school.example"])
    due, _ = due_digests(utc(2026, 11, 30, 12, 31), [ANA], {})
    assert [(d.recipient.email, d.local_day) for d in due] == [(ANA.email, date(2026, 11, 30))]


def test_a_recorded_day_is_never_due_again() -> None:
    due, missed = due_digests(utc(2026, 11, 30, 12, 31), [ANA], {ANA.email: {date(2026, 11, 30)}})
    assert due == missed == []


def test_the_local_time_holds_across_daylight_saving_changes() -> None:
    # Chicago: CDT (UTC-5) before 1 Nov 2026, CST (UTC-6) after.
    assert send_instant(ANA, date(2026, 10, 31)) == utc(2026, 10, 31, 11, 30)
    assert send_instant(ANA, date(2026, 11, 2)) == utc(2026, 11, 2, 12, 30)
    assert send_instant(ANA, date(2027, 3, 15)) == utc(2027, 3, 15, 11, 30)


def test_after_downtime_a_digest_within_grace_still_goes_and_an_older_one_is_missed() -> None:
    due, _ = due_digests(utc(2026, 11, 30, 14, 0), [ANA], {}, grace=timedelta(hours=2))
    assert [d.send_at for d in due] == [utc(2026, 11, 30, 12, 30)]
    due, missed = due_digests(utc(2026, 11, 30, 15, 0), [ANA], {}, grace=timedelta(hours=2))
    assert due == [] and [m.local_day for m in missed] == [date(2026, 11, 30)]
