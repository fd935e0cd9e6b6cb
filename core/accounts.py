"""Accounts created with a one-time password: a new county's first
administrators (``bangban county init``) and accounts the security
administrator opens in the back office. The password is shown once, meets
the password policy and must be changed at the first sign-in."""
from __future__ import annotations

import re
import secrets
import string

from flask_babel import lazy_gettext as _l

from . import audit, catalog
from .db import transaction
from .models import Region, Staff

def first_roles(county_code):
    """``[(role code, administrator kind)]``: the roles whose metadata says
    ``administrator:`` (the separated administrators and the county's
    administrator) — the accounts a county starts with."""
    return [(r.key, r.content["administrator"]) for r in catalog.all_current("roles", county=county_code)
            if r.content.get("administrator")]
USERNAME = re.compile(r"^[a-z0-9][a-z0-9_.\-]{2,79}$")
ALPHABET = string.ascii_letters + string.digits


class AccountError(ValueError):
    """Why an account cannot be created; the message is for users."""


def one_time_password() -> str:
    """16 characters with every character class the strictest profile asks."""
    while True:
        body = "".join(secrets.choice(ALPHABET) for _ in range(14))
        if any(c.islower() for c in body) and any(c.isupper() for c in body) and any(c.isdigit() for c in body):
            return body[:7] + secrets.choice("@#%+=") + body[7:] + secrets.choice("!?*")


def create_account(county_code, username, name, role, region=None, *, actor="cli", actor_role="cli",
                   department=None) -> str:
    """Create one account with a one-time password; return the password."""
    from .passwords import MUST_CHANGE, hash_password

    region = region or county_code
    if not USERNAME.match(username or ""):
        raise AccountError(_l("A username is 3 to 80 lower-case letters, digits, dots, dashes or underscores."))
    if Staff.select().where(Staff.username == username).exists():
        raise AccountError(_l("The username %(name)s is taken.", name=username))
    if catalog.current("roles", role, county=county_code) is None:
        raise AccountError(_l("There is no role %(role)s.", role=role))
    if not Region.select().where((Region.code == region) & (Region.county_code == county_code)).exists():
        raise AccountError(_l("The county's regions are not loaded: sync its metadata pack first."))
    password = one_time_password()
    with transaction():
        Staff.create(county_code=county_code, username=username, name=name or username, role=role, region=region,
                     department=department, password_hash=hash_password(password),
                     password_changed_at=MUST_CHANGE)  # to be changed at the first sign-in
        audit.record("staff.create_one_time", f"staff:{username}", actor=actor, role=actor_role,
                     county_code=county_code, payload={"role": role, "region": region})
    return password


def init_county(county_code, *, actor="cli") -> list[tuple[str, str, str]]:
    """The county's first accounts that do not exist yet: ``[(username,
    role, one-time password)]``."""
    made = []
    for role, kind in first_roles(county_code):
        username = f"{county_code}.{'admin' if kind == 'county' else kind}"
        if Staff.select().where(Staff.username == username).exists():
            continue
        made.append((username, role, create_account(county_code, username, username, role, actor=actor)))
    return made
