"""Teachers' pages, reached from the signed links of a digest (no account):
`/u/` unsubscribe, `/d/` the digest in a browser and past digests.

A GET never changes anything (mail scanners open every link of a message):
it shows a page whose one button does. The `List-Unsubscribe` URL also
takes the RFC 8058 one-click POST, exempt from CSRF since its signed token
is its authority. An altered link gets 400, an expired one 410, and a link
of an address no longer in config.toml 404; each changes nothing.
`teacher_manage.py` holds the manage and "more / less like this" pages.
"""

from __future__ import annotations

import flask
from werkzeug.wrappers.response import Response as WerkzeugResponse

from aggregator.app.archive import past_digests, sent_digest
from aggregator.app.links import LinkSigner, Purpose, signer_for
from aggregator.app.unsubscribe import unsubscribe_address, verify_token
from aggregator.domain.errors import BadLink, ExpiredLink, PLNError, UnknownRecipient
from aggregator.domain.recipient import RecipientConfig
from aggregator.run.web.context import web_state
from aggregator.run.web.csrf import csrf

bp = flask.Blueprint("teacher", __name__)

# RFC 8058 3.1: the one-click POST carries this one key and value, form-encoded.
ONE_CLICK = ("List-Unsubscribe", "One-Click")
# The stored digest is an email: styled inline, no script. Its page gets a
# policy of its own that allows exactly that (the app's forbids inline styles).
DIGEST_CSP = (
    "default-src 'none'; style-src 'unsafe-inline'; img-src https: data:; "
    "frame-ancestors 'none'; base-uri 'none'; form-action 'none'"
)

Page = tuple[str, int]


def page(title: str, message: str, code: int = 200, **extra: object) -> Page:
    """A teacher's page saying one thing (and maybe offering a link or button)."""
    return flask.render_template(
        "web/teacher_message.j2", title=title, message=message, **extra
    ), code


def _bad_link(error: BadLink) -> Page:
    if isinstance(error, ExpiredLink):
        return page("This link has expired", str(error).capitalize() + ".", 410)
    return page("This link does not work", str(error).capitalize() + ".", 400)


def _unknown_recipient(error: UnknownRecipient) -> Page:
    return page("No digest for this address", str(error), 404)


def handle_link_errors(blueprint: flask.Blueprint) -> None:
    """Answer the link errors of `blueprint`'s views with a teacher's page
    (400 altered, 410 expired, 404 an address no longer configured)."""
    blueprint.register_error_handler(BadLink, _bad_link)
    blueprint.register_error_handler(UnknownRecipient, _unknown_recipient)


handle_link_errors(bp)


def signer() -> LinkSigner:
    """The signer of this service's links (`[web] secret_env`)."""
    state = web_state()
    found = signer_for(state.config, state.app.clock)
    if found is None:  # create_app refuses to start without the secret
        raise PLNError("[web] secret_env is not set")
    return found


def teacher(email: str) -> RecipientConfig:
    """The configured recipient a genuine link names; raises UnknownRecipient."""
    recipient = web_state().config.recipient(email)
    if recipient is None:
        raise UnknownRecipient(
            "This address no longer receives PLN Digest, so there is nothing to change. "
            "If that is a mistake, ask the person who runs PLN Digest at your school."
        )
    return recipient


# -- unsubscribe ---------------------------------------------------------------


@bp.get("/u/<token>")
def unsubscribe_form(token: str) -> Page:
    """The confirmation page of an unsubscribe link: a button, nothing changed yet."""
    recipient = teacher(signer().recipient_of(Purpose.UNSUBSCRIBE, token))
    return _confirm(recipient, flask.url_for("teacher.one_click", token=token))


@bp.post("/u/<token>")
def one_click(token: str) -> Page:
    """RFC 8058 one-click unsubscribe (and the confirmation page's button)."""
    email = signer().recipient_of(Purpose.UNSUBSCRIBE, token)
    return _unsubscribe(email)


@bp.get("/unsubscribe")
def legacy_unsubscribe_form() -> Page:
    """The unsubscribe links of digests sent before `pln serve`: still honoured."""
    recipient = teacher(_legacy_address())
    return _confirm(recipient, flask.request.full_path)


@bp.post("/unsubscribe")
def legacy_one_click() -> Page:
    """One-click unsubscribe for the links of digests sent before `pln serve`."""
    return _unsubscribe(_legacy_address())


# The signed token is their authority: a mail program's POST has no session.
csrf.exempt(one_click)
csrf.exempt(legacy_one_click)


def _legacy_address() -> str:
    token = flask.request.args.get("token", "")
    try:
        return verify_token(web_state().config.email, token)
    except PLNError as exc:
        raise BadLink(
            "this link is not valid: it was altered, cut short, or is not one of ours"
        ) from exc


def _confirm(recipient: RecipientConfig, action: str) -> Page:
    gone = recipient.email in web_state().app.repo.unsubscribed()
    return flask.render_template(
        "web/teacher_unsubscribe.j2", email=recipient.email, action=action, gone=gone
    ), 200


def _is_one_click() -> bool:
    """Whether the POST body is exactly the RFC 8058 key and value, form-encoded."""
    request = flask.request
    if request.mimetype not in ("application/x-www-form-urlencoded", "multipart/form-data"):
        return False
    return not request.files and request.form.to_dict(flat=False) == {ONE_CLICK[0]: [ONE_CLICK[1]]}


def _unsubscribe(email: str) -> Page:
    if not _is_one_click():
        return page(
            "Not unsubscribed",
            "This address only takes the one-click unsubscribe of RFC 8058 "
            "(List-Unsubscribe=One-Click). Use the button on the link's page.",
            400,
        )
    recipient = teacher(email)
    unsubscribe_address(web_state().app, recipient.email)
    return page(
        "You are unsubscribed",
        f"{recipient.email} will get no more digests. "
        "Changed your mind? Ask the person who runs PLN Digest at your school.",
    )


# -- the digest in a browser, and past digests --------------------------------


@bp.get("/d/<token>")
def digest_page(token: str) -> WerkzeugResponse | Page:
    """One digest exactly as it was sent, or (a list token) the teacher's past digests."""
    email, day = signer().digest_of(token)
    recipient = teacher(email)
    app = web_state().app
    if day is None:
        links = [
            (
                d,
                flask.url_for(
                    "teacher.digest_page", token=signer().digest_token(email, d.local_day)
                ),
            )
            for d in past_digests(app, recipient.email)
        ]
        keep_days = web_state().config.storage.keep_days
        return flask.render_template(
            "web/teacher_archive.j2", email=recipient.email, digests=links, keep_days=keep_days
        ), 200
    sent = sent_digest(app, recipient.email, day)
    if sent is None:
        keep_days = web_state().config.storage.keep_days
        return page(
            "This digest is no longer kept",
            f"Digests are kept for {keep_days} days; the one of {day.isoformat()} is gone "
            "(or was never sent).",
            404,
        )
    response = flask.make_response(sent.copy.html)
    response.headers["Content-Security-Policy"] = DIGEST_CSP
    return response
