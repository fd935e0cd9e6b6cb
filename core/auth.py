"""Staff sign-in: password (argon2id), lockout, TOTP for administrators,
server-side sessions, rate limits, password changes; CSRF on every form.

A sign-in attempt is one pass through the sign-in form, or for an
administrator one submission of the second-factor form after a correct
password. Each attempt writes one row in ``SignInAttempt`` and one audit
entry: ``auth.sign_in``, ``auth.sign_in_failed`` (payload ``reason``:
``password`` or ``totp``) or ``auth.sign_in_locked``. A correct password
awaiting its second factor is not yet an attempt's outcome: the attempt
is recorded when the code is submitted. Enrolling the TOTP secret happens
inside the attempt that confirms it (``totp_enrolled`` in the payload).

Lockout: 5 failed attempts within 15 minutes lock the username for 30
minutes; while locked, every attempt is refused without checking the
password, with the same message whatever was typed. Refused attempts are
recorded but neither count towards nor extend the lock. A successful
sign-in starts the count afresh.
"""
from __future__ import annotations

import datetime
import hmac
from urllib.parse import urlsplit

import pyotp
from flask import (Blueprint, abort, current_app, flash, redirect, render_template, request, session,
                   url_for)
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_limiter import Limiter
from flask_limiter.util import get_remote_address
from flask_login import LoginManager, current_user, login_required, login_user, logout_user
from flask_wtf import CSRFProtect

from . import audit, passwords, sessions
from .db import transaction
from .models import SignInAttempt, Staff
from .passwords import hash_password, hasher  # noqa: F401 - re-exported (demo, staff admin)

bp = Blueprint("auth", __name__)
csrf = CSRFProtect()

# Lockout.
LOCK_ATTEMPTS = 5
LOCK_WINDOW = datetime.timedelta(minutes=15)
LOCK_DURATION = datetime.timedelta(minutes=30)
_LOCK_HORIZON = datetime.timedelta(hours=2)  # how far back failures are read

# The Flask session (a signed cookie) holds only these, besides the
# language, the CSRF token and Flask-Login's own keys.
TOKEN_KEY = "_bb_token"  # the server-side session's token
PENDING_KEY = "_bb_pending"  # a correct password awaiting its second factor
MUST_CHANGE_KEY = "_bb_must_change"  # the password must be changed before anything else
KEEP_KEYS = ("lang",)  # survive the session being regenerated
PENDING_SECONDS = 10 * 60  # time to enter (or enrol) the second factor

# Rate limits (per client IP, per endpoint), see init_app.
SIGN_IN_RATE_LIMIT = "10/minute"
TRACK_RATE_LIMIT = "30/minute"
TOTP_ISSUER = "Bangban"

WRONG = _l("The username or password is wrong.")
LOCKED = _l("Too many failed sign-in attempts: this account is locked for a while. Try again later.")
WRONG_CODE = _l("The code is wrong or has expired.")
AGAIN = _l("Please sign in again.")
SESSION_ENDED = {
    "idle": _l("You were signed out after a time without activity. Please sign in again."),
    "absolute": _l("Your session reached its time limit. Please sign in again."),
}


class User:
    """The signed-in staff member, as Flask-Login sees them."""

    is_authenticated = True
    is_active = True
    is_anonymous = False

    def __init__(self, staff: Staff, user_session=None):
        self.staff = staff
        self.user_session = user_session  # the server-side session (core.models.UserSession)
        self.id = staff.id
        self.username = staff.username
        self.name = staff.name
        self.role = staff.role
        self.locale = staff.locale
        self.county_code = staff.county_code
        self.region = staff.region
        self.department = staff.department

    def get_id(self):
        return str(self.id)

    @property
    def is_admin(self):
        from .permissions import is_administrator

        return is_administrator(self)


def needs_second_factor(staff: Staff) -> bool:
    """Administrators (roles whose metadata says ``administrator:``) sign
    in with a second factor."""
    from .permissions import administrator_kind

    return bool(administrator_kind(staff.role, staff.county_code))


def check_password(staff: Staff | None, password: str) -> bool:
    """Whether the password is right (unknown users cost the same time)."""
    return passwords.verify(staff.password_hash if staff is not None else None, password)


# -- the TOTP secret at rest (wrapped by field encryption later) -------------

def _store_secret(secret: str) -> str:
    """The value kept in ``Staff.totp_secret``: encrypted with the data key."""
    from . import personal

    return personal.encrypt(secret, "staff.totp_secret")


def _load_secret(stored: str | None) -> str | None:
    """The secret from the value kept in ``Staff.totp_secret``."""
    from . import personal

    return personal.decrypt(stored, "staff.totp_secret") if stored else None


def totp_secret(staff: Staff) -> str | None:
    return _load_secret(staff.totp_secret)


def totp_step(secret: str, code: str) -> int | None:
    """The time step a code belongs to (now, or one step either side), or None."""
    code = "".join((code or "").split())
    if not (len(code) == 6 and code.isdigit()):
        return None
    totp = pyotp.TOTP(secret)
    now = sessions.timestamp()
    for offset in (0, -1, 1):
        at = now + offset * totp.interval
        if hmac.compare_digest(totp.at(at), code):
            return int(at // totp.interval)
    return None


def verify_totp(secret: str, code: str, staff: Staff | None = None) -> bool:
    """A valid code, not used before: with ``staff``, the step is recorded
    so that the same code cannot be replayed within its window."""
    step = totp_step(secret, code)
    if step is None:
        return False
    if staff is None:
        return True
    used = (Staff.update(totp_last_step=step)
            .where((Staff.id == staff.id) & (Staff.totp_last_step.is_null() | (Staff.totp_last_step < step)))
            .execute())
    return bool(used)


# -- lockout -----------------------------------------------------------------

def locked_until(username: str, at: datetime.datetime | None = None) -> datetime.datetime | None:
    """When the lock on a username ends, or None if it is not locked."""
    at = at or sessions.now()
    since = at - _LOCK_HORIZON
    last_ok = (SignInAttempt.select(SignInAttempt.at)
               .where((SignInAttempt.username == username) & SignInAttempt.ok & (SignInAttempt.at >= since))
               .order_by(SignInAttempt.at.desc()).first())
    query = SignInAttempt.select(SignInAttempt.at).where(
        (SignInAttempt.username == username) & ~SignInAttempt.ok & (SignInAttempt.at >= since)
        & (SignInAttempt.at <= at))
    if last_ok is not None:
        query = query.where(SignInAttempt.at > last_ok.at)
    failures = sorted(row.at for row in query.order_by(SignInAttempt.at.desc()).limit(500))
    lock_end, window = None, []
    for moment in failures:
        if lock_end is not None and moment < lock_end:
            continue  # refused while locked: neither counts nor extends the lock
        window = [w for w in window if moment - w < LOCK_WINDOW] + [moment]
        if len(window) >= LOCK_ATTEMPTS:
            lock_end, window = moment + LOCK_DURATION, []
    return lock_end if lock_end is not None and lock_end > at else None


def _client_ip() -> str:
    return (request.remote_addr or "")[:64]


def _record(username: str, staff: Staff | None, ok: bool, action: str, **payload):
    """One attempt: a SignInAttempt row and one audit entry. Call inside a
    transaction."""
    SignInAttempt.create(username=username[:80], at=sessions.now(), ok=ok, ip=_client_ip())
    audit.record(action, f"staff:{username}"[:200], actor=(username or "-")[:80],
                 role=staff.role if staff else "-", county_code=staff.county_code if staff else "",
                 payload={"ip": _client_ip(), **payload})


def _refuse(username, staff, action, message, **payload):
    with transaction():
        _record(username, staff, False, action, **payload)
    flash(message, "error")


# -- the Flask session -------------------------------------------------------

def _reset_flask_session():
    """Empty the Flask session but for the language: at sign-in (a new
    session, so nothing planted before survives) and sign-out."""
    kept = {k: session[k] for k in KEEP_KEYS if k in session}
    session.clear()
    session.update(kept)


def _safe_target(target: str | None) -> str:
    """A local path to go to after sign-in, else "" (the person's landing
    page; no open redirect: browsers drop tabs and newlines and read ``\\``
    as ``/``)."""
    target = target or ""
    parts = urlsplit(target)
    if (not target.startswith("/") or target.startswith("//") or "\\" in target or parts.scheme or parts.netloc
            or any(c.isspace() or ord(c) < 32 or ord(c) == 127 for c in target)):
        return ""
    return target


def landing(user) -> str:
    """Where a person lands after signing in: their workbench when they have
    work on one (core.workbench), else the home page."""
    from .workbench import may_use

    return url_for("work.work_list") if may_use(user) else url_for("web.home")


def _complete_sign_in(staff: Staff, password_problem: bool, target: str, **payload):
    """Both factors done: record the attempt, start a server-side session
    and a fresh Flask session."""
    previous = current_user._get_current_object()
    with transaction():
        if previous.is_authenticated and previous.user_session is not None:  # signing in again, this browser
            sessions.end(previous.user_session, "new_sign_in")
        _record(staff.username, staff, True, "auth.sign_in", **payload)
        token, row = sessions.create(staff, _client_ip(), request.headers.get("User-Agent", ""))
    _reset_flask_session()
    login_user(User(staff, row), remember=False)
    session[TOKEN_KEY] = token
    if password_problem:
        session[MUST_CHANGE_KEY] = "policy"
    if password_problem or passwords.is_expired(staff, passwords.current_profile(), sessions.now()):
        return redirect(url_for("auth.account"))
    return redirect(target or landing(current_user))


# -- views -------------------------------------------------------------------

@bp.route("/sign-in", methods=["GET", "POST"])
def sign_in():
    if request.method == "POST":
        username = (request.form.get("username") or "").strip()
        password = request.form.get("password") or ""
        staff = Staff.get_or_none(Staff.username == username) if 0 < len(username) <= 80 else None
        if locked_until(username):
            _refuse(username, staff, "auth.sign_in_locked", LOCKED)
            return render_template("sign_in.html", username=username)
        right = check_password(staff, password)
        if not (right and staff.active):
            # the same message for a disabled account; the audit tells them apart
            _refuse(username, staff, "auth.sign_in_failed", WRONG, reason="disabled" if right else "password")
            return render_template("sign_in.html", username=username)
        if passwords.needs_rehash(staff.password_hash):
            Staff.update(password_hash=hash_password(password)).where(Staff.id == staff.id).execute()
        problem = bool(passwords.check_policy(password, passwords.current_profile(), username=staff.username))
        target = _safe_target(request.args.get("next"))
        if needs_second_factor(staff):
            session[PENDING_KEY] = {"staff": staff.id, "at": sessions.timestamp(), "next": target,
                                    "weak": problem}
            return redirect(url_for("auth.second_factor"))
        return _complete_sign_in(staff, problem, target)
    return render_template("sign_in.html")


def _pending():
    """The correct password awaiting its second factor, and its staff."""
    pending = session.get(PENDING_KEY)
    if not isinstance(pending, dict):
        return None, None
    staff = Staff.get_or_none(Staff.id == pending.get("staff"))
    if (staff is None or not staff.active or not needs_second_factor(staff)
            or not 0 <= sessions.timestamp() - pending.get("at", 0) <= PENDING_SECONDS):
        session.pop(PENDING_KEY, None)
        return None, None
    return pending, staff


def _no_store(response):
    response = current_app.make_response(response)
    response.headers["Cache-Control"] = "no-store"
    return response


@bp.route("/sign-in/verify", methods=["GET", "POST"])
def second_factor():
    pending, staff = _pending()
    if pending is None:
        flash(AGAIN, "error")
        return redirect(url_for("auth.sign_in"))
    stored = totp_secret(staff)
    enrolling = stored is None
    if enrolling and not pending.get("secret"):
        pending["secret"] = pyotp.random_base32()
        session[PENDING_KEY] = pending
    secret = stored or pending["secret"]
    if request.method == "POST":
        if locked_until(staff.username):
            session.pop(PENDING_KEY, None)
            _refuse(staff.username, staff, "auth.sign_in_locked", LOCKED)
            return redirect(url_for("auth.sign_in"))
        if verify_totp(secret, request.form.get("code", ""), staff):
            session.pop(PENDING_KEY, None)
            with transaction():  # the confirmed secret and the sign-in commit together
                # only a confirmed secret is kept, and only if none was meanwhile
                if enrolling and not (Staff.update(totp_secret=_store_secret(secret))
                                      .where((Staff.id == staff.id) & Staff.totp_secret.is_null()).execute()):
                    flash(AGAIN, "error")
                    return redirect(url_for("auth.sign_in"))
                return _complete_sign_in(staff, pending.get("weak", False),
                                         pending.get("next") or "",
                                         mfa="totp", totp_enrolled=enrolling)
        _refuse(staff.username, staff, "auth.sign_in_failed", WRONG_CODE, reason="totp", enrolling=enrolling)
        if locked_until(staff.username):
            session.pop(PENDING_KEY, None)
            flash(LOCKED, "error")
            return redirect(url_for("auth.sign_in"))
    if enrolling:
        uri = pyotp.TOTP(secret).provisioning_uri(name=staff.username, issuer_name=_issuer())
        return _no_store(render_template("account/totp_enrol.html", secret=secret, uri=uri, qr=_qr_svg(uri),
                                         grouped=" ".join(secret[i:i + 4] for i in range(0, len(secret), 4))))
    return _no_store(render_template("account/totp.html"))


def _issuer():
    return current_app.config["BANGBAN"].get("TOTP_ISSUER") or TOTP_ISSUER


def _qr_svg(text):
    import segno

    return segno.make(text, error="m").svg_inline(scale=4, title="TOTP")


@bp.route("/sign-out", methods=["POST"])
@login_required
def sign_out():
    user = current_user._get_current_object()
    with transaction():
        if user.user_session is not None:
            sessions.end(user.user_session, "sign_out", audit_it=False)
        audit.record("auth.sign_out", f"staff:{user.username}", actor=user.username, role=user.role,
                     county_code=user.county_code, payload={"ip": _client_ip()})
    logout_user()
    _reset_flask_session()
    return redirect(url_for("web.home"))


@bp.route("/account", methods=["GET", "POST"])
@login_required
def account():
    user = current_user._get_current_object()
    staff = user.staff
    profile = passwords.current_profile()
    expired = passwords.is_expired(staff, profile, sessions.now())
    forced = session.get(MUST_CHANGE_KEY) or ("expired" if expired else None)
    errors = {}
    if request.method == "POST":
        old = request.form.get("old_password") or ""
        new = request.form.get("new_password") or ""
        again = request.form.get("new_password2") or ""
        if locked_until(staff.username):
            errors["old_password"] = [LOCKED]
        elif not check_password(staff, old):
            errors["old_password"] = [_l("The current password is wrong.")]
            with transaction():  # counts towards the lockout, like a wrong password at sign-in
                _record(staff.username, staff, False, "auth.password_change_failed", reason="password")
        problems = passwords.check_policy(new, profile, username=staff.username)
        if problems:
            errors["new_password"] = problems
        elif new == old:
            errors["new_password"] = [_l("The new password must differ from the current one.")]
        if new != again:
            errors["new_password2"] = [_l("The two new passwords differ.")]
        if not errors:
            with transaction():
                Staff.update(password_hash=hash_password(new), password_changed_at=sessions.now()).where(
                    Staff.id == staff.id).execute()
                ended = sessions.end_all(staff, "password_change", keep=user.user_session)
                audit.record("auth.password_change", f"staff:{staff.username}", actor=staff.username,
                             role=staff.role, county_code=staff.county_code,
                             payload={"ip": _client_ip(), "forced": forced, "sessions_ended": ended})
            session.pop(MUST_CHANGE_KEY, None)
            flash(_("Your password has been changed."), "info")
            return redirect(url_for("web.home"))
    deadline = passwords.expires_at(staff, profile)
    return _no_store(render_template("account/password.html", errors=errors, forced=forced, profile=profile,
                                     deadline=deadline, username=staff.username))


@bp.route("/account/language", methods=["POST"])
@login_required
def account_language():
    """The signed-in user's own language, kept with the account."""
    from .i18n import LANGUAGES

    chosen = request.form.get("locale")
    if chosen not in LANGUAGES:
        abort(400)
    user = current_user._get_current_object()
    with transaction():
        Staff.update(locale=chosen).where(Staff.id == user.id).execute()
        audit.record("staff.locale", f"staff:{user.username}", actor=user.username, role=user.role,
                     county_code=user.county_code, payload={"locale": chosen})
    session["lang"] = chosen
    return redirect(url_for("auth.account"))


# -- wiring ------------------------------------------------------------------

#: What a signed-in user who must change their password may still reach.
_WHILE_MUST_CHANGE = {"auth.account", "auth.sign_out"}
_UNGUARDED = {"static", "plugin_static", "theme_static"}


def _guard():
    """Before each request: check the server-side session (through the
    user loader), then send a user whose password must change to /account."""
    endpoint = request.endpoint
    if endpoint is None or endpoint in _UNGUARDED or endpoint.endswith(".static"):
        return None
    user = current_user._get_current_object()
    if not user.is_authenticated or endpoint in _WHILE_MUST_CHANGE:
        return None
    if session.get(MUST_CHANGE_KEY) or passwords.is_expired(user.staff, passwords.current_profile(),
                                                            sessions.now()):
        return redirect(url_for("auth.account"))
    return None


def _load_user(user_id):
    """Flask-Login's user loader: the user only while their server-side
    session is live (ends it when idle, too old or the account disabled)."""
    check = sessions.validate(session.get(TOKEN_KEY))
    if not check.ok or str(check.session.staff_id) != str(user_id):
        _reset_flask_session()
        flash(SESSION_ENDED.get(check.ended_why, AGAIN), "error")
        return None
    return User(check.session.staff, check.session)


def _rate_limited(error):
    return render_template("account/rate_limited.html"), 429


def init_app(app):
    conf = app.config.get("BANGBAN", {})
    passwords.get_profile(conf.get("PASSWORD_PROFILE"))  # an unknown profile stops startup

    # Rate limits, per client IP and endpoint, counted in the data
    # directory (core.ratelimit) so that every worker process of the server
    # shares the counts. Blueprint limits are keyed by blueprint name, so
    # they apply to blueprints registered after this runs.
    from . import ratelimit

    limiter = Limiter(get_remote_address, storage_uri=ratelimit.uri(conf.get("DATA_DIR", "var")), headers_enabled=True)
    limiter.init_app(app)
    limiter.limit(conf.get("SIGN_IN_RATE_LIMIT") or SIGN_IN_RATE_LIMIT, methods=["POST"])(bp)
    from .cases.track import bp as track_bp

    limiter.limit(conf.get("TRACK_RATE_LIMIT") or TRACK_RATE_LIMIT)(track_bp)
    from .hall.views import bp as hall_bp

    limiter.limit(conf.get("HALL_RATE_LIMIT") or "120/minute")(hall_bp)
    limiter.limit(conf.get("HALL_POST_RATE_LIMIT") or "10/minute", methods=["POST"])(hall_bp)
    app.extensions["bangban_limiter"] = limiter
    app.register_error_handler(429, _rate_limited)

    csrf.init_app(app)
    manager = LoginManager(app)
    manager.login_view = "auth.sign_in"
    manager.login_message = None
    manager.user_loader(_load_user)
    app.before_request(_guard)


__all__ = ["bp", "init_app", "hash_password", "check_password", "current_user", "User",
           "locked_until", "verify_totp"]
