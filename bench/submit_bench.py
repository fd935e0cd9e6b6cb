"""Case submission vs. a bare marshmallow + peewee insert of the same rows
(issue 13: >= 0.85x throughput on SQLite and PostgreSQL).

The real side is ``POST /cases/new/<item>`` (the generated form's schema,
the case, its commission, its first event, the audit entry, personal data
encrypted, the plugins' hooks). The baseline is an endpoint written by hand
for the same item (bench/cases_bench.py: a marshmallow schema with the same
checks, plain peewee inserts of the same four rows, the same receipt
counter and audit entry), registered on the same app, behind the same
sign-in and CSRF check, posted through the same test client. Both run in
interleaved rounds, one request of each per round (median); the statements each request runs are counted
and printed.

    python bench/run.py --only submit [--db sqlite] [--quick]
"""
from __future__ import annotations

import contextlib
import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bench.report import Row, fresh_pg, interleaved, pg_url  # noqa: E402

ITEM = "150626-ybj-003"


@contextlib.contextmanager
def counting(database, with_params=False):
    """Record the statements ``database`` runs meanwhile: yields a list the
    SQL texts (``(sql, params)`` with ``with_params``) are appended to."""
    seen = []
    original = database.execute_sql

    def execute_sql(sql, params=None, *args, **kwargs):
        seen.append((sql, params) if with_params else sql)
        return original(sql, params, *args, **kwargs)

    database.execute_sql = execute_sql
    try:
        yield seen
    finally:
        del database.execute_sql


def submit_form():
    from core.cases.demo import _form

    form = {k: ("true" if v is True else str(v)) for k, v in _form(3, "150626100201").items()}
    form.update({"filing_type": "long_term_residence", "referral_hospital": "内蒙古自治区人民医院",
                 "destination": "呼和浩特市", "start_date": "2026-12-01", "material_1": "on", "material_2": "on"})
    return form


def install_bare(app, item_code=ITEM):
    """Register the hand-written endpoint ``/-/bench/bare`` on ``app``."""
    from flask import request
    from flask_login import current_user, login_required

    from bench.cases_bench import HandSchema
    from core import audit, personal
    from core.cases.models import Case, CaseEvent, Commission
    from core.cases.service import next_number, today
    from core.db import transaction
    from core.models import MetadataRecord

    with app.app_context():
        record = MetadataRecord.get((MetadataRecord.key == item_code) & MetadataRecord.current)
    materials = record.content.get("materials", [])
    schema = HandSchema()

    @app.post("/-/bench/bare")
    @login_required
    def bare():
        form = {k: v for k, v in request.form.items() if k in schema.fields}
        data = schema.load(form)
        with transaction():
            case = Case.create(county_code="150626", number=next_number("150626", today()), item_code=item_code,
                               item_record=record.id, item_version=record.version, kind="instant",
                               workflow="five_steps", state="applied", township_code=data["applicant_division"][:9],
                               village_code=data["applicant_division"], owner=current_user.id,
                               applicant_name=data["applicant_name"],
                               applicant_id_number=personal.encrypt(data["applicant_id_number"], "c.id"),
                               applicant_phone=personal.encrypt(data["applicant_phone"], "c.phone"),
                               applicant_id_hash=personal.id_hash(data["applicant_id_number"]),
                               applicant_phone_hash=personal.phone_hash(data["applicant_phone"]),
                               data=personal.protect_mapping(data, "cases.data"))
            Commission.create(county_code="150626", case=case, principal={"principal_is_applicant": True},
                              materials=[{"name": m["name"], "form": m["form"], "count": m.get("count", 1),
                                          "key": bool(m.get("key")), "received": True} for m in materials],
                              powers=["submit", "supplement", "collect_result", "pay"], created_by=current_user.id)
            CaseEvent.create(county_code="150626", case=case, actor=current_user.id, role=current_user.role,
                             action="apply", to_state="applied")
            audit.record("case.create", f"case:{case.number}", actor=current_user.username, role=current_user.role,
                         county_code="150626")
        return "", 302


def signed_in(app, item_code=ITEM, username="taoli.grid", password="Bangban@2026"):
    """A test client signed in, with the form's CSRF token."""
    client = app.test_client()
    html = client.get("/sign-in").get_data(as_text=True)
    token = re.search(r'name="csrf_token" value="([^"]+)"', html).group(1)
    client.post("/sign-in", data={"username": username, "password": password, "csrf_token": token})
    html = client.get(f"/cases/new/{item_code}").get_data(as_text=True)  # a new session at sign-in: new token
    return client, re.search(r'name="csrf_token" value="([^"]+)"', html).group(1)


def submitters(app, item_code=ITEM):
    """``(real, bare)``: callables posting one case each, asserting success."""
    client, token = signed_in(app, item_code)
    payload = {**submit_form(), "csrf_token": token}

    def real():
        response = client.post(f"/cases/new/{item_code}", data=payload)
        assert response.status_code == 302, response.get_data(as_text=True)[:500]

    def bare():
        response = client.post("/-/bench/bare", data=payload)
        assert response.status_code == 302, response.get_data(as_text=True)[:500]

    return real, bare


def statements(app, fn):
    """The SQL statements one call of ``fn`` runs."""
    with counting(app.extensions["bangban"].db) as seen:
        fn()
    return seen


def measure(app, rounds):
    """``(t_real, t_bare, n_real, n_bare)``: median seconds per submission
    of each side (one of each per round, alternating, so that the noise of
    a shared machine hits both alike), and the statements each runs."""
    install_bare(app)
    real, bare = submitters(app)
    for _ in range(5):  # warm: form compiled, caches filled, connections open
        real(), bare()
    n_real, n_bare = len(statements(app, real)), len(statements(app, bare))
    t_real, t_bare = interleaved([real, bare], rounds)
    return t_real, t_bare, n_real, n_bare


def run(ctx):
    from bench.bulk import demo_app

    rows = []
    rounds = 20 if ctx.quick else max(ctx.repeat * 60, 300)
    for db in ctx.dbs:
        if db == "sqlite":
            url = f"sqlite:///{ctx.tmp / 'submit.db'}"
        else:
            url = pg_url("submit")
            fresh_pg(url)
        app = demo_app(url, ctx.tmp / f"submit-{db}")
        app.config["WTF_CSRF_ENABLED"] = True
        try:
            t_real, t_bare, n_real, n_bare = measure(app, rounds)
        finally:
            database = app.extensions["bangban"].db
            if hasattr(database, "close_all"):
                database.close_all()
        ratio = t_bare / t_real  # throughput of the real submission relative to the bare one
        rows.append(Row("case submission vs bare insert (throughput)", db, ratio, ">= 0.85x", ratio >= 0.85,
                        f"{1 / t_real:.0f}/s ({t_real * 1000:.1f} ms, {n_real} statements) vs "
                        f"{1 / t_bare:.0f}/s ({t_bare * 1000:.1f} ms, {n_bare} statements)"))
    return rows


if __name__ == "__main__":
    import argparse
    import tempfile

    from bench.report import Context, print_rows

    parser = argparse.ArgumentParser()
    parser.add_argument("--db", default="sqlite,postgresql")
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        print_rows(run(Context(tmp=Path(tmp), dbs=args.db.split(","), scales=[], repeat=5, quick=args.quick)))
