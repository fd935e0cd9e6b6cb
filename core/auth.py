"""Staff sign-in (Flask-Login), password hashing (argon2id) and CSRF.

Every sign-in attempt, good or bad, writes one audit entry.
"""
from __future__ import annotations

import functools

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import LoginManager, current_user, login_required, login_user, logout_user
from flask_wtf import CSRFProtect

from . import audit
from .db import transaction
from .models import Staff

# argon2id, 19 MiB, 2 passes, 1 lane: OWASP's minimum recommendation.
hasher = PasswordHasher(time_cost=2, memory_cost=19 * 1024, parallelism=1)
bp = Blueprint("auth", __name__)
csrf = CSRFProtect()
ADMIN_ROLES = {"county_admin", "system_admin", "security_admin", "audit_admin"}


class User:
    """The signed-in staff member, as Flask-Login sees them."""

    is_authenticated = True
    is_active = True
    is_anonymous = False

    def __init__(self, staff: Staff):
        self.staff = staff
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
        return self.role in ADMIN_ROLES


def hash_password(password: str) -> str:
    return hasher.hash(password)


def check_password(staff: Staff | None, password: str) -> bool:
    if staff is None:
        # Spend the same time for unknown users as for known ones.
        try:
            hasher.verify(_dummy_hash(), password)
        except VerificationError:
            pass
        return False
    try:
        return hasher.verify(staff.password_hash, password)
    except (VerificationError, InvalidHashError):
        return False


@functools.cache
def _dummy_hash():
    return hasher.hash("not a password")


def init_app(app):
    manager = LoginManager(app)
    manager.login_view = "auth.sign_in"
    manager.login_message = None
    csrf.init_app(app)

    @manager.user_loader
    def load_user(user_id):
        staff = Staff.get_or_none((Staff.id == int(user_id)) & Staff.active)
        return User(staff) if staff else None


@bp.route("/sign-in", methods=["GET", "POST"])
def sign_in():
    if request.method == "POST":
        username = (request.form.get("username") or "").strip()
        password = request.form.get("password") or ""
        staff = Staff.get_or_none(Staff.username == username)
        ok = bool(staff and staff.active and check_password(staff, password))
        with transaction():
            audit.record("auth.sign_in" if ok else "auth.sign_in_failed", f"staff:{username}",
                         actor=username or "-", role=staff.role if staff else "-",
                         county_code=staff.county_code if staff else "",
                         payload={"ip": request.remote_addr})
        if ok:
            login_user(User(staff))
            target = request.args.get("next") or ""
            if not target.startswith("/") or target.startswith("//"):
                target = url_for("web.home")
            return redirect(target)
        flash(_("The username or password is wrong."), "error")
    return render_template("sign_in.html")


@bp.route("/sign-out", methods=["POST"])
@login_required
def sign_out():
    logout_user()
    return redirect(url_for("web.home"))


__all__ = ["bp", "init_app", "hash_password", "check_password", "current_user", "User"]
