"""How long a value may be where it is kept or written: database columns, headers.

`aggregator.store.tables` declares its columns with these, and `pln check`
refuses longer values, so nothing the check accepted meets "value too long"
on PostgreSQL, or a header line too long to send, later.
"""

from __future__ import annotations

SOURCE_KEY_CHARS = 200
"""A `[[sources]]` key (sources.key, posts.source_key)."""
STORED_ADDRESS_CHARS = 320
"""A recipient's address (recipients.email, digests.recipient_email): room
for any address `pln check` accepts (`address.MAX_ADDRESS_CHARS`) and the
`health-report:` prefix of the weekly health email's claim."""
PUBLIC_URL_CHARS = 500
"""`[email] public_url`: its unsubscribe link, with the token of the longest
address, must fit in one List-Unsubscribe header line (RFC 5322 2.1.1: 998
characters; the link cannot be folded)."""
LEASE_KEY_CHARS = 400
"""A work lease's key (work_leases.key): a prefix, then a source key or an
address and a local day."""
