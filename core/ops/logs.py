"""Structured request logs: one JSON line per request on the logger
``bangban.requests`` (request id, user id, method, route *pattern*,
endpoint, status, duration in ms). No personal data: never the path's
values or the query string (they may hold a phone or an ID number), no IP
address, no names. ``BANGBAN_REQUEST_LOG``: empty (the default) leaves the
logger to the deployer's logging configuration, ``-`` writes to stderr, a
path appends to that file (rotate it with logrotate: see the README).

Security events (sign-ins, refusals, role changes, reveals of personal
data …) are audit entries, kept at least 184 days (``audit purge`` refuses
less): Cybersecurity Law art. 21 asks for six months of network logs.
"""
from __future__ import annotations

import json
import logging
import re
import secrets
import sys
import time

from flask import g, request

log = logging.getLogger("bangban.requests")
_INCOMING_ID = re.compile(r"[A-Za-z0-9_.-]{8,64}")
_HANDLERS = {}


def _handler(target: str):
    if target not in _HANDLERS:
        handler = logging.StreamHandler(sys.stderr) if target == "-" else logging.FileHandler(target, encoding="utf-8")
        handler.setFormatter(logging.Formatter("%(message)s"))
        _HANDLERS[target] = handler
        log.addHandler(handler)
        log.setLevel(logging.INFO)
        log.propagate = False
    return _HANDLERS[target]


def init_app(app):
    target = app.config["BANGBAN"].get("REQUEST_LOG") or ""
    if target:
        _handler(target)

    @app.before_request
    def _start():
        incoming = request.headers.get("X-Request-Id", "")
        g.bangban_request_id = incoming if _INCOMING_ID.fullmatch(incoming) else secrets.token_hex(8)
        g.bangban_request_start = time.perf_counter()

    @app.after_request
    def _log(response):
        started = g.get("bangban_request_start")
        rid = g.get("bangban_request_id") or secrets.token_hex(8)
        response.headers["X-Request-Id"] = rid
        if not log.isEnabledFor(logging.INFO):
            return response
        user_id = None
        try:
            from flask_login import current_user

            if current_user and current_user.is_authenticated:
                user_id = int(current_user.get_id())
        except Exception:  # noqa: BLE001 - no user loader (a bare test app): no user id
            user_id = None
        line = {
            "ts": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime()) + "Z",
            "request_id": rid,
            "user_id": user_id,
            "method": request.method,
            "route": request.url_rule.rule if request.url_rule is not None else None,
            "endpoint": request.endpoint,
            "status": response.status_code,
            "duration_ms": round((time.perf_counter() - started) * 1000, 1) if started else None,
        }
        log.info(json.dumps(line, separators=(",", ":")))
        return response
