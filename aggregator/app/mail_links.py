"""The links of one digest to the service, signed for its recipient.

With `[web] public_url` and `secret_env` a digest links to its copy in a
browser, the page to manage it, one-click unsubscribe, and under each story
"more / less like this" (`aggregator.app.links` signs them). Without them
it carries only the unsubscribe link of `[email] unsubscribe_secret_env`,
as digests did before `pln serve`. Every digest names its list the same
way (`list_id_for`), whoever receives it.
"""

from __future__ import annotations

from dataclasses import replace

from aggregator.app.links import FeedbackTarget, Purpose, link_url, signer_for
from aggregator.app.mailer import config_mailbox
from aggregator.app.unsubscribe import make_unsubscribe_url
from aggregator.config.types import Config
from aggregator.domain.clock import Clock, utc_now
from digests.compose import Digest
from digests.render import DigestLinks

__all__ = ["digest_links", "list_id_for"]


def digest_links(config: Config, digest: Digest, clock: Clock = utc_now) -> DigestLinks:
    """The links of `digest` to the service, signed for its recipient.

    With `[web] public_url` and `secret_env`: "view in browser", "manage",
    one-click unsubscribe and each story's "more / less like this". Without
    them, only the unsubscribe link of `[email] unsubscribe_secret_env`,
    when that is set, as before `pln serve` existed.
    """
    email = digest.recipient.email
    public_url = config.web.public_url
    signer = signer_for(config, clock)
    if not public_url or signer is None:
        legacy = replace(config.email, public_url=public_url or config.email.public_url)
        return DigestLinks(unsubscribe=make_unsubscribe_url(legacy, email) or "")
    feedback = {}
    for entry in (*digest.entries, *digest.also):
        key = (entry.post.source_key, entry.post.external_id)
        token = signer.feedback_token(FeedbackTarget(email, *key))
        feedback[key] = (
            link_url(public_url, Purpose.FEEDBACK, token, "more"),
            link_url(public_url, Purpose.FEEDBACK, token, "less"),
        )
    return DigestLinks(
        unsubscribe=link_url(
            public_url, Purpose.UNSUBSCRIBE, signer.recipient_token(Purpose.UNSUBSCRIBE, email)
        ),
        archive=link_url(public_url, Purpose.ARCHIVE, signer.digest_token(email, digest.local_day)),
        manage=link_url(public_url, Purpose.MANAGE, signer.recipient_token(Purpose.MANAGE, email)),
        feedback=feedback,
    )


def list_id_for(sender: str) -> str:
    """The List-Id of every digest from `sender` (`[email] from`): the same
    for each digest, whoever receives it (RFC 2919 2: a list's identifier
    does not change). Raises PermanentFailure for a `from` no header can carry."""
    domain = config_mailbox(sender, "from")[1].rpartition("@")[2].lower()
    try:
        domain = domain.encode("idna").decode("ascii")  # RFC 2919: a dot-atom, ASCII
    except UnicodeError:
        domain = "localhost"
    return f"PLN Digest <pln-digest.{domain}>"
