"""Teachers' pages that change their digest, from its signed links:
`/m/` manage my digest, `/f/more/` and `/f/less/` "more / less like this".

A GET shows a form; only its POST (with the CSRF token of the form)
changes anything, from the next digest on. The rules for bad links are
`teacher.py`'s.
"""

from __future__ import annotations

import functools
from datetime import date
from zoneinfo import ZoneInfo, available_timezones

import flask
from werkzeug.wrappers.response import Response as WerkzeugResponse

from aggregator.app.feedback import leanings_of, record_feedback, story_of, undo_feedback
from aggregator.app.links import Purpose
from aggregator.app.preferences import (
    PreferenceError,
    PreferenceForm,
    preferences_of,
    save_preferences,
)
from aggregator.domain.feedback import LeaningKind
from aggregator.domain.recipient import RecipientConfig
from aggregator.run.web.context import web_state
from aggregator.run.web.teacher import Page, handle_link_errors, page, signer, teacher

bp = flask.Blueprint("teacher_manage", __name__)
handle_link_errors(bp)

WEEKDAY_NAMES = (
    ("mon", "Monday"),
    ("tue", "Tuesday"),
    ("wed", "Wednesday"),
    ("thu", "Thursday"),
    ("fri", "Friday"),
    ("sat", "Saturday"),
    ("sun", "Sunday"),
)


@functools.cache
def _zones() -> tuple[str, ...]:
    return tuple(sorted(z for z in available_timezones() if "/" in z or z == "UTC"))


def _today(recipient: RecipientConfig) -> date:
    """The teacher's local day, in the time zone their digest follows now."""
    effective = preferences_of(web_state().app, recipient.email).applied_to(recipient)
    return web_state().app.clock().astimezone(ZoneInfo(effective.timezone)).date()


# -- manage my digest ------------------------------------------------------------


@bp.get("/m/<token>")
def manage_form(token: str) -> Page:
    """The teacher's choices, as a form filled with what their digest follows now."""
    recipient = teacher(signer().recipient_of(Purpose.MANAGE, token))
    return _manage_page(token, recipient, _shown_form(recipient), {}, 200)


@bp.post("/m/<token>")
def manage_submit(token: str) -> WerkzeugResponse | Page:
    """Save the form (checked; nothing saved when any field is refused)."""
    recipient = teacher(signer().recipient_of(Purpose.MANAGE, token))
    form = _posted_form()
    try:
        save_preferences(web_state().app, recipient, form, _today(recipient))
    except PreferenceError as refused:
        return _manage_page(token, recipient, form, refused.problems, 400)
    flask.flash("Saved. Your next digest follows these choices.")
    return flask.redirect(flask.url_for("teacher_manage.manage_form", token=token), 303)


@bp.post("/m/<token>/undo")
def undo_submit(token: str) -> WerkzeugResponse:
    """Forget one "more / less like this"."""
    recipient = teacher(signer().recipient_of(Purpose.MANAGE, token))
    try:
        kind = LeaningKind(flask.request.form.get("kind", ""))
    except ValueError:
        flask.abort(400, "That choice cannot be undone: reload the page and try again.")
    value = flask.request.form.get("value", "")
    if undo_feedback(web_state().app, recipient.email, kind, value):
        flask.flash("Undone. Your next digest no longer follows that choice.")
    return flask.redirect(flask.url_for("teacher_manage.manage_form", token=token), 303)


def _shown_form(recipient: RecipientConfig) -> PreferenceForm:
    """The form as saved: what the next digest follows."""
    chosen = preferences_of(web_state().app, recipient.email)
    effective = chosen.applied_to(recipient)
    return PreferenceForm(
        send_at=effective.send_at,
        days=effective.days or tuple(day for day, _ in WEEKDAY_NAMES),
        reading_minutes=str(effective.reading_minutes),
        timezone=effective.timezone,
        mute="\n".join(chosen.mute),
        boost="\n".join(chosen.boost),
        paused_until=chosen.paused_until.isoformat() if chosen.paused_until else "",
    )


def _posted_form() -> PreferenceForm:
    form = flask.request.form
    return PreferenceForm(
        send_at=form.get("send_at", ""),
        days=tuple(form.getlist("days")),
        reading_minutes=form.get("reading_minutes", ""),
        timezone=form.get("timezone", ""),
        mute=form.get("mute", ""),
        boost=form.get("boost", ""),
        paused_until=form.get("paused_until", ""),
    )


def _manage_page(
    token: str,
    recipient: RecipientConfig,
    form: PreferenceForm,
    problems: dict[str, str],
    code: int,
) -> Page:
    app = web_state().app
    archive = signer().recipient_token(Purpose.ARCHIVE, recipient.email)
    unsubscribe = signer().recipient_token(Purpose.UNSUBSCRIBE, recipient.email)
    html = flask.render_template(
        "web/teacher_manage.j2",
        token=token,
        recipient=recipient,
        form=form,
        problems=problems,
        weekdays=WEEKDAY_NAMES,
        # An entry's zone outside the list (an alias, like "EST") stays selectable.
        zones=_zones() if form.timezone in _zones() else (form.timezone, *_zones()),
        leanings=leanings_of(app, recipient.email).items,
        archive_url=flask.url_for("teacher.digest_page", token=archive),
        unsubscribe_url=flask.url_for("teacher.unsubscribe_form", token=unsubscribe),
        today=_today(recipient).isoformat(),
    )
    return html, code


# -- more / less like this -------------------------------------------------------


@bp.get("/f/<direction>/<token>")
def feedback_form(direction: str, token: str) -> Page:
    """The story a "more / less like this" link names, and one button."""
    more = _is_more(direction)
    target = signer().feedback_of(token)
    teacher(target.email)
    post = story_of(web_state().app, target)
    return flask.render_template(
        "web/teacher_feedback.j2",
        more=more,
        post=post,
        source=_source_title(target.source_key),
        action=flask.url_for("teacher_manage.feedback_submit", direction=direction, token=token),
    ), 200


@bp.post("/f/<direction>/<token>")
def feedback_submit(direction: str, token: str) -> Page:
    """Record the choice; the next digests follow it."""
    more = _is_more(direction)
    target = signer().feedback_of(token)
    recipient = teacher(target.email)
    record_feedback(web_state().app, target, more)
    manage = signer().recipient_token(Purpose.MANAGE, recipient.email)
    what = "more" if more else "less"
    return page(
        "Thank you",
        f"Your next digests will show {what} stories like this one "
        f"(from {_source_title(target.source_key)}, by the same author, on the same topic).",
        link=(
            flask.url_for("teacher_manage.manage_form", token=manage),
            "Undo or see your choices",
        ),
    )


def _is_more(direction: str) -> bool:
    if direction not in ("more", "less"):
        flask.abort(404)
    return direction == "more"


def _source_title(key: str) -> str:
    source = web_state().config.source(key)
    return source.title if source is not None else key
