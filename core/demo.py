"""``bangban demo``: demo counties from metadata.

Syncs every loaded plugin's packs plus the demo packs plugins register with
``register_demo_packs`` (illustrative villages, sites and staff of one
county each; ``county=`` selects one), then creates an account for each demo
staff entry and demo cases in every state for each county. Running it again
changes nothing that is already there (passwords are reset to the given one
so the printed logins always work).
"""
from __future__ import annotations

import datetime

from . import audit, db, personal
from .auth import check_password, hash_password
from .i18n import localized
from .metadata import store
from .models import Staff


class DemoError(RuntimeError):
    pass


def demo_packs(pm, county=None):
    """``[(path, county)]`` of the demo packs the loaded plugins offer."""
    from pathlib import Path

    from .plugins import collect

    found = [(Path(args[0]), str(kw.get("county") or (args[1] if len(args) > 1 else "")))
             for _plugin, args, kw in collect(pm, "register_demo_packs")]
    return [(path, code) for path, code in found if county is None or code == county]


def load_demo(pm, password: str, county=None, history=0):
    from .cli import load_catalog, pack_paths

    demos = demo_packs(pm, county)
    if not demos:
        offered = ", ".join(sorted(c for _p, c in demo_packs(pm))) or "none"
        raise DemoError(f"no loaded plugin offers a demo for county {county or 'any'} (offered: {offered}); "
                        "set BANGBAN_PLUGINS to include a region plugin")
    catalog = load_catalog(pm, [*pack_paths(pm), *(path for path, _c in demos)])
    db.migrate()
    store.sync(catalog, actor="demo", role="system")
    logins = []
    hashed = hash_password(password)  # one hash for every demo account: argon2 is slow on purpose
    verified = {}  # stored hash -> whether it is the demo password (checked once per distinct hash)
    with db.transaction():
        counties = {code for _p, code in demos}
        merged = {id(e) for e in catalog.entries("staff")}
        in_file_order = [e for pack in catalog.packs for e in pack.entries if e.kind == "staff" and id(e) in merged]
        for entry in in_file_order:  # accounts are numbered in the order the pack lists them
            data = entry.data
            if data["region"][:6] not in counties:
                continue
            name = localized(data["name"], "zh")
            fields = dict(name=name, role=data["role"], region=data["region"], county_code=data["region"][:6],
                          department=data.get("department"), active=True,
                          profile={k: data[k] for k in ("hours", "photo", "posts") if data.get(k)} or None)
            staff = Staff.get_or_none(Staff.username == data["username"])
            if data.get("phone") and not (staff and personal.decrypt(staff.phone_enc, "staff.phone") == data["phone"]):
                fields["phone_enc"] = personal.encrypt(data["phone"], "staff.phone")
            if staff is None:
                Staff.create(username=data["username"], password_hash=hashed, **fields)
                audit.record("staff.create", f"staff:{data['username']}", actor="demo", role="system",
                             county_code=fields["county_code"], payload={"role": data["role"]})
            else:
                changed = {k: v for k, v in fields.items() if getattr(staff, k) != v}
                if staff.password_hash not in verified:
                    verified[staff.password_hash] = check_password(staff, password)
                if not verified[staff.password_hash]:
                    changed["password_hash"] = hashed
                    changed["password_changed_at"] = datetime.datetime.utcnow()
                if changed:
                    Staff.update(**changed).where(Staff.id == staff.id).execute()
                    audit.record("staff.update", f"staff:{data['username']}", actor="demo", role="system",
                                 county_code=fields["county_code"], payload={"fields": sorted(changed)})
            logins.append((data["username"], data["role"], name))
        for entry in in_file_order:  # B posts (AB岗) once every account exists
            covers = entry.data.get("covers")
            if covers and entry.data["region"][:6] in counties:
                Staff.update(covers=Staff.select(Staff.id).where(Staff.username == covers)).where(
                    (Staff.username == entry.data["username"])
                    & (Staff.covers.is_null() | (Staff.covers != Staff.select(Staff.id).where(
                        Staff.username == covers)))).execute()
    from . import workdays
    from .cases.demo import load_demo_cases

    year = datetime.date.today().year
    workdays.seed_holidays([year, year + 1], actor="demo")
    from .compliance.demo import load_demo_accounts

    for _path, code in demos:
        if load_demo_cases(code):
            pm.hook.demo_cases_loaded(county=code)
            if history:
                from .cases import history as past

                past.generate(code, history, seed=int(code))  # a year behind the dashboard (core.kpi)
                from .cases import service as case_service

                case_service.sla_scan()  # the history's overdue cases escalated, as the demo's own are
        load_demo_accounts(code)  # self-assessments and work logs (the accounts' pages)
    return logins
