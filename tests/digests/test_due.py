"""What is due: local send times, days already recorded, lateness."""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from aggregator.domain.recipient import RecipientConfig
from digests.compose import digest_window
from digests.due import due_digests, next_send_at, send_instant, sending_soon

ANA = RecipientConfig(email="ana@school.example", timezone="America/Chicago", send_at="06:30")
LUIS = RecipientConfig(email="luis@school.example", timezone="Europe/London", send_at="07:00")


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)


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


# --- ticking through days: what the metronome sees each minute ---------------

SAM = RecipientConfig(email="sam@school.example", timezone="Australia/Sydney", send_at="07:00")


@dataclass(frozen=True)
class Break:
    first: date
    last: date


def sends(
    recipient: RecipientConfig,
    start: datetime,
    days: int,
    *,
    holidays: tuple[Break, ...] = (),
    grace: timedelta = timedelta(minutes=30),
) -> list[datetime]:
    """Tick every minute for `days`, recording each digest when it first
    becomes due, as the service does: the UTC instants digests went out."""
    recorded: dict[str, set[date]] = {}
    sent: list[datetime] = []
    now = start
    while now < start + timedelta(days=days):
        due, _missed = due_digests(now, [recipient], recorded, grace, holidays=holidays)
        for digest in due:
            recorded.setdefault(recipient.email, set()).add(digest.local_day)
            sent.append(now)
        now += timedelta(minutes=1)
    return sent


def local(at: datetime, zone: str) -> str:
    return at.astimezone(ZoneInfo(zone)).strftime("%a %d %b %H:%M")


@pytest.mark.parametrize(
    ("recipient", "start", "expected"),
    [
        # Chicago falls back on Sun 1 Nov 2026: 06:30 is 11:30 UTC before, 12:30 after.
        (
            ANA,
            utc(2026, 10, 31, 0, 0),
            ["Sat 31 Oct 06:30", "Sun 01 Nov 06:30", "Mon 02 Nov 06:30"],
        ),
        # ... and springs forward on Sun 14 Mar 2027.
        (ANA, utc(2027, 3, 13, 0, 0), ["Sat 13 Mar 06:30", "Sun 14 Mar 06:30", "Mon 15 Mar 06:30"]),
        # London falls back on Sun 25 Oct 2026.
        (
            LUIS,
            utc(2026, 10, 24, 0, 0),
            ["Sat 24 Oct 07:00", "Sun 25 Oct 07:00", "Mon 26 Oct 07:00"],
        ),
        # Sydney springs forward on Sun 4 Oct 2026 (southern spring).
        (
            SAM,
            utc(2026, 10, 2, 14, 0),
            ["Sat 03 Oct 07:00", "Sun 04 Oct 07:00", "Mon 05 Oct 07:00"],
        ),
    ],
)
def test_each_local_day_gets_one_digest_at_its_wall_clock_time_across_dst(
    recipient: RecipientConfig, start: datetime, expected: list[str]
) -> None:
    sent = sends(recipient, start, days=3)
    assert [local(at, recipient.timezone) for at in sent] == expected
    gaps = {sent[1] - sent[0], sent[2] - sent[1]}
    assert timedelta(hours=23) in gaps or timedelta(hours=25) in gaps  # the change is real


def test_a_send_time_skipped_or_repeated_by_a_clock_change_still_gives_one_digest() -> None:
    # 02:30 does not exist in Sydney on 4 Oct 2026: it goes at 03:30, once.
    night_owl = RecipientConfig(
        email="o@school.example", timezone="Australia/Sydney", send_at="02:30"
    )
    sent = sends(night_owl, utc(2026, 10, 3, 12, 0), days=1)
    assert [local(at, night_owl.timezone) for at in sent] == ["Sun 04 Oct 03:30"]
    # 01:30 happens twice in London on 25 Oct 2026: the first one, once.
    early = RecipientConfig(email="e@school.example", timezone="Europe/London", send_at="01:30")
    sent = sends(early, utc(2026, 10, 24, 23, 0), days=1)
    assert sent == [utc(2026, 10, 25, 0, 30)]


def test_school_days_only_skips_the_weekend() -> None:
    weekdays = replace(ANA, days=("mon", "tue", "wed", "thu", "fri"))
    sent = sends(weekdays, utc(2026, 11, 27, 0, 0), days=4)  # Fri 27 Nov to Mon 30 Nov
    assert [local(at, ANA.timezone) for at in sent] == ["Fri 27 Nov 06:30", "Mon 30 Nov 06:30"]


WINTER = Break(date(2026, 12, 21), date(2027, 1, 1))


def test_no_digest_during_a_holiday_and_the_first_after_it_covers_one_window() -> None:
    weekdays = replace(ANA, days=("mon", "tue", "wed", "thu", "fri"))
    sent = sends(weekdays, utc(2026, 12, 18, 0, 0), days=18, holidays=(WINTER,))
    assert [local(at, ANA.timezone) for at in sent] == ["Fri 18 Dec 06:30", "Mon 04 Jan 06:30"]
    # The digest of 4 January covers [digest] max_window_hours, not the break.
    start, end = digest_window(sent[1], last_digest_at=sent[0], max_window=timedelta(hours=24))
    assert (start, end) == (sent[1] - timedelta(hours=24), sent[1])


def test_a_missed_digest_is_never_sent_later_that_day_nor_the_next() -> None:
    grace = timedelta(minutes=30)
    # Down from 06:00 to 08:00 Chicago time (12:00-14:00 UTC) on 30 Nov.
    now = utc(2026, 11, 30, 14, 0)
    due, missed = due_digests(now, [ANA], {}, grace)
    assert due == [] and [m.local_day for m in missed] == [date(2026, 11, 30)]
    for minutes in range(0, 16 * 60, 7):  # the rest of that local day: still not due
        assert due_digests(now + timedelta(minutes=minutes), [ANA], {}, grace)[0] == []
    # The next morning's digest goes as usual, and only it.
    due, _ = due_digests(utc(2026, 12, 1, 12, 31), [ANA], {}, grace)
    assert [d.local_day for d in due] == [date(2026, 12, 1)]


def test_next_send_skips_weekends_holidays_and_recorded_days() -> None:
    weekdays = replace(ANA, days=("mon", "tue", "wed", "thu", "fri"))
    # Fri 18 Dec at 07:00 local, already sent: next is Mon 4 Jan, after the break.
    now = utc(2026, 12, 18, 13, 0)
    assert next_send_at(now, weekdays, (WINTER,), {date(2026, 12, 18)}) == utc(2027, 1, 4, 12, 30)
    assert next_send_at(utc(2026, 11, 30, 12, 0), ANA) == utc(2026, 11, 30, 12, 30)
    assert (
        next_send_at(now, replace(ANA, days=("sat",)), (Break(date(2026, 1, 1), date(2028, 6, 1)),))
        is None
    )


def test_sending_soon_names_recipients_whose_send_time_is_near() -> None:
    now = utc(2026, 11, 30, 12, 5)  # 06:05 in Chicago, 12:05 in London
    assert sending_soon(now, [ANA, LUIS], timedelta(minutes=30)) == [ANA]
    assert sending_soon(now, [ANA, LUIS], timedelta(minutes=20)) == []
    assert (
        sending_soon(
            now, [ANA], timedelta(minutes=30), (Break(date(2026, 11, 30), date(2026, 11, 30)),)
        )
        == []
    )
