"""Recipients: a `[[recipients]]` entry, who gets a digest, when, of what."""

from __future__ import annotations

from dataclasses import dataclass

from aggregator.domain.address import identity


@dataclass(frozen=True, slots=True)
class RecipientConfig:
    """A `[[recipients]]` entry: who gets a digest, when, of what.

    `email` is the recipient's identity, in lower case whatever case it was
    given in (deliveries, unsubscribes and the stored recipient go by it), so
    that writing Ana@School.org for ana@school.org is no new recipient; the
    address as written is `to_address`, what the digest's To header shows.
    """

    email: str
    name: str = ""
    timezone: str = "UTC"
    send_at: str = "06:30"
    reading_minutes: int = 5
    follow: tuple[str, ...] = ()
    mute: tuple[str, ...] = ()
    boost: tuple[str, ...] = ()
    days: tuple[str, ...] = ()
    """Weekdays a digest goes out ("mon".."sun"); empty means every day."""
    written_email: str = ""
    """`email` as written, when that differs from its lower-case form."""

    def __post_init__(self) -> None:
        written = self.written_email
        if not written or identity(written) != identity(self.email):
            written = self.email  # a new address (e.g. from dataclasses.replace)
        object.__setattr__(self, "email", identity(self.email))
        object.__setattr__(self, "written_email", "" if written == self.email else written)

    @property
    def to_address(self) -> str:
        """The address as written in the configuration: the To header's."""
        return self.written_email or self.email
