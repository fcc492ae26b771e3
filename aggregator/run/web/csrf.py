"""The app's CSRF protection (Flask-WTF), importable by every page module.

Every form posts `csrf_token`; a view that must accept a POST without a
session (RFC 8058 one-click unsubscribe) is decorated with `@csrf.exempt`
and checks a signed token of its own instead.
"""

from __future__ import annotations

from flask_wtf.csrf import CSRFProtect

csrf = CSRFProtect()
