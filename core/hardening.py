"""Web hardening: security headers with a per-request CSP nonce, no-store
on every page a signed-in user sees, one audit entry per refused access
(403, and 404 for records outside the user's scope), and bad input stopped
at the door:

- ``<int:…>`` in every route is a record id, 1 to 2**63-1 (what BIGINT
  holds); anything else does not match the route: 404;
- integers from the query string or a form go through :func:`int_arg`
  (bounds; anything else: 400), and so do the back office's ``page``,
  ``id`` and ``rowid`` on every page;
- a NUL character anywhere in the path, the query, a form or a file name
  is refused (400): PostgreSQL text cannot hold it;
- 400 and 404 answer with a message in the user's language (JSON under
  ``/api/``).
"""
from __future__ import annotations

import re
import secrets

from flask import g, jsonify, render_template, request
from flask_babel import gettext as _
from flask_login import current_user
from werkzeug.exceptions import BadRequest, NotFound
from werkzeug.routing import IntegerConverter

from . import audit
from .db import transaction

BIGINT_MAX = 2**63 - 1
_INTEGER = re.compile(r"[+-]?[0-9]{1,19}", re.ASCII)


class IdConverter(IntegerConverter):
    """The app's ``int`` converter: ids from 1 to 2**63-1, at most 19 digits,
    so an id out of the database's range never reaches a query."""

    regex = r"\d{1,19}"
    signed_regex = r"-?\d{1,19}"

    def __init__(self, map, fixed_digits=0, min=1, max=BIGINT_MAX, signed=False):
        super().__init__(map, fixed_digits=fixed_digits, min=min, max=max, signed=signed)


#: converters every app registers before its first route (core.app)
CONVERTERS = {"int": IdConverter}


class BadInput(BadRequest):
    """A 400 whose description is a message for the user (translated)."""


def int_arg(name, default=None, *, low=0, high=BIGINT_MAX, source=None):
    """The integer ``name`` of the query string (or ``source``, e.g.
    ``request.form``), ``default`` when absent or empty; anything that is not
    a whole number from ``low`` to ``high`` answers 400."""
    raw = (request.args if source is None else source).get(name)
    if raw is None or not raw.strip():
        return default
    return _whole(name, raw, low, high)


def _whole(name, raw, low, high):
    raw = raw.strip()
    if _INTEGER.fullmatch(raw) and low <= int(raw) <= high:
        return int(raw)
    raise BadInput(_("%(name)s must be a whole number from %(low)s to %(high)s.", name=name, low=low, high=high))


def _has_nul(req) -> bool:
    texts = [req.path]
    texts += [t for key, values in req.args.lists() for t in (key, *values)]
    if req.method not in ("GET", "HEAD", "OPTIONS") and req.mimetype in (
            "application/x-www-form-urlencoded", "multipart/form-data"):
        texts += [t for key, values in req.form.lists() for t in (key, *values)]
        texts += [f.filename or "" for f in req.files.values()]
    return any("\x00" in t for t in texts)


#: parameters with one meaning on every page, checked for every request:
#: the back office's (Flask-Admin's) list page, record id and selected rows
QUERY_INTEGERS = {"page": (0, 10**6), "id": (1, BIGINT_MAX)}
FORM_INTEGERS = {"rowid": (1, BIGINT_MAX)}


def _nameless_part(req) -> bool:
    """A multipart part whose name cannot be read (werkzeug gives it the key
    None): no page expects one, and code reading keys as text would fail."""
    if req.method in ("GET", "HEAD", "OPTIONS") or req.mimetype not in (
            "application/x-www-form-urlencoded", "multipart/form-data"):
        return False
    return any(key is None for key in (*req.form.keys(), *req.files.keys()))


def _check_request():
    if _nameless_part(request):
        raise BadInput(_("A part of the form has no readable name."))
    if _has_nul(request):
        raise BadInput(_("The request contains a NUL character, which is not allowed."))
    for name, (low, high) in QUERY_INTEGERS.items():
        int_arg(name, low=low, high=high)
    if request.method == "POST":
        for name, (low, high) in FORM_INTEGERS.items():
            for value in request.form.getlist(name):
                _whole(name, value, low, high)


def _error_page(error):
    """400 and 404 in the user's language, as a page or, under /api/, JSON."""
    if isinstance(error, NotFound):
        title, message = _("Not found"), _("The page or record you asked for does not exist.")
    else:
        title = _("Bad request")
        message = error.description if isinstance(error, BadInput) else _(
            "The request could not be understood. Reload the page and try again.")
    if request.path.startswith("/api/"):
        return jsonify({"error": str(message)}), error.code
    return render_template("error.html", title=title, message=message), error.code


def csp_nonce() -> str:
    if "_csp_nonce" not in g:
        g._csp_nonce = secrets.token_urlsafe(16)
    return g._csp_nonce


def record_refusal(status: int, reason: str):
    """One audit entry for a refused request (its own transaction)."""
    user = current_user if current_user and current_user.is_authenticated else None
    with transaction():
        audit.record("access.refused", request.path[:200], actor=getattr(user, "username", "-"),
                     role=getattr(user, "role", "-"), county_code=getattr(user, "county_code", ""),
                     payload={"status": status, "reason": reason, "method": request.method})
    g._refusal_recorded = True


def init_app(app):
    app.jinja_env.globals["csp_nonce"] = csp_nonce
    app.before_request(_check_request)
    app.register_error_handler(400, _error_page)
    app.register_error_handler(404, _error_page)

    @app.after_request
    def headers(response):
        nonce = g.get("_csp_nonce")
        script = f"script-src 'self' 'nonce-{nonce}'" if nonce else "script-src 'self'"
        response.headers.setdefault(
            "Content-Security-Policy",
            f"default-src 'self'; {script}; style-src 'self' 'unsafe-inline'; img-src 'self' data:; "
            "object-src 'none'; base-uri 'self'; form-action 'self'; frame-ancestors 'none'")
        response.headers.setdefault("X-Content-Type-Options", "nosniff")
        response.headers.setdefault("X-Frame-Options", "DENY")
        response.headers.setdefault("Referrer-Policy", "same-origin")
        if current_user and current_user.is_authenticated and not request.path.startswith("/static"):
            response.headers["Cache-Control"] = "no-store"
        if response.status_code == 403 and not g.get("_refusal_recorded"):
            record_refusal(403, "forbidden")
        return response
