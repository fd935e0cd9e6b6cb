"""Web hardening: security headers with a per-request CSP nonce, no-store
on every page a signed-in user sees, and one audit entry per refused access
(403, and 404 for records outside the user's scope)."""
from __future__ import annotations

import secrets

from flask import g, request
from flask_login import current_user

from . import audit
from .db import transaction


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
