"""``bangban demo``: the demo county 乌审旗 from metadata.

Syncs every loaded plugin's packs plus the demo pack (illustrative villages,
sites and staff), then creates an account for each demo staff entry. Running
it again changes nothing that is already there (passwords are reset to the
given one so the printed logins always work).
"""
from __future__ import annotations

import datetime

from . import audit, db
from .auth import check_password, hash_password
from .i18n import localized
from .metadata import store
from .paths import METADATA
from .models import Staff


class DemoError(RuntimeError):
    pass


def load_demo(pm, password: str):
    from .cli import load_catalog, pack_paths

    paths = pack_paths(pm)
    if not any(p.name == "wushen" for p in paths):
        raise DemoError("the demo needs the 'wushen' plugin (set BANGBAN_PLUGINS to include it)")
    catalog = load_catalog(pm, [*paths, METADATA / "demo"])
    db.migrate()
    store.sync(catalog, actor="demo", role="system")
    logins = []
    with db.transaction():
        for entry in catalog.entries("staff"):
            data = entry.data
            name = localized(data["name"], "zh")
            fields = dict(name=name, role=data["role"], region=data["region"], county_code=data["region"][:6],
                          department=data.get("department"), active=True)
            staff = Staff.get_or_none(Staff.username == data["username"])
            if staff is None:
                Staff.create(username=data["username"], password_hash=hash_password(password), **fields)
                audit.record("staff.create", f"staff:{data['username']}", actor="demo", role="system",
                             county_code=fields["county_code"], payload={"role": data["role"]})
            else:
                changed = {k: v for k, v in fields.items() if getattr(staff, k) != v}
                if not check_password(staff, password):
                    changed["password_hash"] = hash_password(password)
                    changed["password_changed_at"] = datetime.datetime.utcnow()
                if changed:
                    Staff.update(**changed).where(Staff.id == staff.id).execute()
                    audit.record("staff.update", f"staff:{data['username']}", actor="demo", role="system",
                                 county_code=fields["county_code"], payload={"fields": sorted(changed)})
            logins.append((data["username"], data["role"], name))
    from . import workdays
    from .cases.demo import load_demo_cases

    year = datetime.date.today().year
    workdays.seed_holidays([year, year + 1], actor="demo")
    load_demo_cases()
    return logins
