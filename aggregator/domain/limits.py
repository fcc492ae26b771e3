"""How long a value the database keeps may be: its columns' sizes.

`aggregator.store.tables` declares its columns with these, and `pln check`
refuses longer values, so nothing the check accepted meets "value too long"
on PostgreSQL later.
"""

from __future__ import annotations

SOURCE_KEY_CHARS = 200
"""A `[[sources]]` key (sources.key, posts.source_key)."""
STORED_ADDRESS_CHARS = 320
"""A recipient's address (recipients.email, digests.recipient_email): room
for any address `pln check` accepts (`address.MAX_ADDRESS_CHARS`) and the
`health-report:` prefix of the weekly health email's claim."""
