"""Case list, count and detail at scale vs. hand-written SQL returning the
same rows (issue 13: <= 1.3x, no statement count that grows with the page
size), and the growth of list, count, detail and submission from 10k to
1M cases (linear or better).

Each database is filled with :mod:`bench.bulk` (the demo county, then
synthetic cases up to each scale of ``ctx.scales``, planner statistics
refreshed). A county-wide ledger reader (``county.tracker``) is signed in;
the app's routes are timed against endpoints written by hand on the same
app, behind the same sign-in and permission check, that run one
hand-written SQL statement each (the county condition written out) and
build the same JSON with the same catalog names (checked equal before
timing):

* list: ``GET /api/cases?limit=100`` and ``?limit=1000`` (the ledger API,
  with its X-Total-Count);
* count: ``GET /api/cases/count?state=evaluated``;
* detail: ``GET /api/cases/<id>`` of a case in the middle.

The statements each route runs are counted at limit 10 and 100 (the same
count, or the row is missed). Submission (``POST /cases/new/<item>``,
bench/submit_bench.py) is timed at each scale for the growth table.

    python bench/run.py --only lists [--db sqlite] [--scales 10000,100000] [--quick]
"""
from __future__ import annotations

import datetime
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bench.report import Row, fresh_pg, interleaved, pg_url, ratio_row  # noqa: E402

COUNTY = "150626"
READER = "county.tracker"
STATE = "evaluated"
COLUMNS = ("id, number, created_at, applicant_name, applicant_id_masked, applicant_phone_masked, "
           "applicant_id_number, applicant_phone, village_code, township_code, item_code, county_code, "
           "item_version, workflow, state, due_day, finished_on, owner_id, rating, rating_comment")


def _iso(value):
    if value is None:
        return ""
    if isinstance(value, str):
        return value[:10]
    return value.date().isoformat() if isinstance(value, datetime.datetime) else value.isoformat()


def install_hand(app):
    """Register the hand-written endpoints ``/-/bench/hand/...`` on ``app``:
    plain SQL for a county-wide reader, the same JSON as the ledger API."""
    from flask import jsonify, request
    from flask_login import current_user, login_required

    from core import catalog, personal
    from core.cases import workflow as wf
    from core.db import is_postgres, proxy
    from core.i18n import localized
    from core.permissions import require
    from core.scope import role_info

    def sql(text):
        return text if is_postgres(proxy.obj) else text.replace("%s", "?")

    def names():
        db = proxy.obj
        out = {code: localized(name) for code, name in db.execute_sql(
            sql("SELECT code, name FROM region WHERE county_code = %s"), (current_user.county_code,))
            for name in [_json(name)]}
        out.update({("staff", i): n for i, n in db.execute_sql(
            sql("SELECT id, name FROM staff WHERE county_code = %s"), (current_user.county_code,))})
        return out

    def build(r, names, today):
        (cid, number, created, applicant, id_masked, phone_masked, id_enc, phone_enc, village, township, item_code,
         county, version, workflow, state, due, finished, owner, rating, comment) = r
        item = catalog.current("items", item_code, county=county)
        due_day = due if due is None or not isinstance(due, str) else datetime.date.fromisoformat(due[:10])
        return {
            "id": cid, "number": number, "date": _iso(created), "applicant": applicant,
            "id_number": id_masked or personal.mask_id_number(personal.decrypt(id_enc, "cases.applicant_id_number")),
            "phone": phone_masked or personal.mask_phone(personal.decrypt(phone_enc, "cases.applicant_phone")),
            "village": names.get(village or township, ""),
            "item": localized(item.content["name"]) if item else item_code, "item_version": version,
            "state": localized(wf.load(workflow).state_name(state)), "state_code": state,
            "due": _iso(due), "overdue": bool(due_day and not finished and due_day < today),
            "finished": _iso(finished), "agent": names.get(("staff", owner), ""), "rating": rating,
            "rating_comment": personal.masked_text(comment or "", "cases.rating_comment"),
        }

    def county_reader():
        require("ledger.read")
        assert role_info(current_user).get("scope") == "county", "the hand-written SQL is the county's condition"

    @app.get("/-/bench/hand/cases")
    @login_required
    def hand_list():
        county_reader()
        offset = int(request.args.get("offset", 0))
        limit = min(int(request.args.get("limit", 1000)), 1000)
        db = proxy.obj
        nm = names()
        today = datetime.date.today()
        rows = db.execute_sql(sql(f"SELECT {COLUMNS} FROM cases WHERE county_code = %s ORDER BY id "  # noqa: S608
                                  "LIMIT %s OFFSET %s"), (current_user.county_code, limit, offset)).fetchall()
        total = db.execute_sql(sql("SELECT COUNT(*) FROM cases WHERE county_code = %s"),
                               (current_user.county_code,)).fetchone()[0]
        response = jsonify([build(r, nm, today) for r in rows])
        response.headers["X-Total-Count"] = str(total)
        return response

    @app.get("/-/bench/hand/cases/count")
    @login_required
    def hand_count():
        county_reader()
        (n,) = proxy.obj.execute_sql(sql("SELECT COUNT(*) FROM cases WHERE county_code = %s AND state = %s"),
                                     (current_user.county_code, request.args["state"])).fetchone()
        return jsonify({"count": n})

    @app.get("/-/bench/hand/cases/<int:case_id>")
    @login_required
    def hand_detail(case_id):
        county_reader()
        # one statement: the case with its village's (or township's) and owner's names
        cols = ", ".join(f"c.{c.strip()}" for c in COLUMNS.split(","))
        r = proxy.obj.execute_sql(sql(
            f"SELECT {cols}, v.code, v.name, t.code, t.name, s.name FROM cases c "  # noqa: S608
            "LEFT JOIN region v ON v.code = c.village_code LEFT JOIN region t ON t.code = c.township_code "
            "LEFT JOIN staff s ON s.id = c.owner_id AND s.county_code = c.county_code "
            "WHERE c.id = %s AND c.county_code = %s"), (case_id, current_user.county_code)).fetchone()
        nm = {code: localized(_json(name)) for code, name in (r[-5:-3], r[-3:-1]) if code}
        nm[("staff", r[17])] = r[-1]
        return jsonify(build(r[:-5], nm, datetime.date.today()))


def _json(text):
    import json

    return json.loads(text) if isinstance(text, str) else text


def signed_in(app, username=READER, password="Bangban@2026"):
    import re

    client = app.test_client()
    html = client.get("/sign-in").get_data(as_text=True)
    token = re.search(r'name="csrf_token" value="([^"]+)"', html).group(1)
    response = client.post("/sign-in", data={"username": username, "password": password, "csrf_token": token})
    assert response.status_code == 302, response.status_code
    return client


def getter(client, path):
    def get():
        response = client.get(path)
        assert response.status_code == 200, (path, response.status_code)
        return response

    return get


def same(client, mine, hand):
    a, b = client.get(mine), client.get(hand)
    assert a.status_code == b.status_code == 200, (mine, a.status_code, b.status_code)
    assert a.get_json() == b.get_json(), f"{mine} and {hand} differ"
    assert a.headers.get("X-Total-Count") == b.headers.get("X-Total-Count"), mine


def statements(app, fn):
    from bench.submit_bench import counting

    with counting(app.extensions["bangban"].db) as seen:
        fn()
    return len(seen)


def _prepare(app, db):
    """Cases up to each scale: returns a function ``grow(scale)``."""
    from bench import bulk
    from core.cases.models import Case

    state = {"seed": 0}

    def grow(scale):
        with app.app_context():
            have = Case.select().where(Case.county_code == COUNTY).count()
            if scale > have:
                state["seed"] += 1
                bulk.load(scale - have, county=COUNTY, seed=state["seed"])
            bulk.analyse()
            return Case.select().where(Case.county_code == COUNTY).count()

    return grow


def run(ctx):
    from bench import submit_bench
    from bench.bulk import demo_app

    rows = []
    rounds = 3 if ctx.quick else max(ctx.repeat * 2, 9)
    scales = sorted(ctx.scales)
    for db in ctx.dbs:
        if db == "sqlite":
            url = f"sqlite:///{ctx.tmp / 'lists.db'}"
        else:
            url = pg_url("lists")
            fresh_pg(url)
        app = demo_app(url, ctx.tmp / f"lists-{db}")
        app.config["WTF_CSRF_ENABLED"] = True
        install_hand(app)
        submit_bench.install_bare(app)
        try:
            grow = _prepare(app, db)
            growth = {}
            for scale in scales:
                have = grow(scale)
                client = signed_in(app)
                with app.app_context():
                    from core.cases.models import Case

                    middle = Case.select(Case.id).where(Case.county_code == COUNTY).order_by(Case.id) \
                        .offset(have // 2).limit(1).scalar()
                pairs = {
                    "case list (100 rows)": ("/api/cases?limit=100", "/-/bench/hand/cases?limit=100"),
                    "case list (1000 rows)": ("/api/cases?limit=1000", "/-/bench/hand/cases?limit=1000"),
                    "case count by state": (f"/api/cases/count?state={STATE}",
                                            f"/-/bench/hand/cases/count?state={STATE}"),
                    "case detail": (f"/api/cases/{middle}", f"/-/bench/hand/cases/{middle}"),
                }
                for name, (mine, hand) in pairs.items():
                    same(client, mine, hand)
                    f_mine, f_hand = getter(client, mine), getter(client, hand)
                    f_mine(), f_hand()
                    r = rounds if have <= 100_000 else max(3, rounds // 2)
                    t_mine, t_hand = interleaved([f_mine, f_hand], r)
                    growth.setdefault(name, []).append((have, t_mine))
                    if scale == scales[-1]:
                        rows.append(ratio_row(f"{name} vs hand-written SQL at {have:,} cases", db, t_mine, t_hand,
                                              "<= 1.3x", lambda v: v <= 1.3))
                real, _bare = submit_bench.submitters(app)
                real(), real()
                (t_submit,) = interleaved([real], rounds * 2)
                growth.setdefault("case submission", []).append((have, t_submit))
            small = statements(app, getter(client, "/api/cases?limit=10"))
            big = statements(app, getter(client, "/api/cases?limit=100"))
            rows.append(Row("case list statements, limit 10 vs 100", db, big / small, "same count", big == small,
                            f"{small} vs {big} statements"))
            for name, series in growth.items():
                first_n, first_t = series[0]
                for n, t in series:
                    rows.append(Row(f"growth: {name}", db, t / first_t, f"<= {n / first_n:.0f}x",
                                    t / first_t <= n / first_n, f"{t * 1000:.1f} ms", scale=n))
                if len(series) > 1:
                    n, t = series[-1]
                    factor = t / first_t
                    rows.append(Row(f"growth {first_n:,} -> {n:,}: {name}", db, factor, "linear or better",
                                    factor <= n / first_n,
                                    f"{first_t * 1000:.1f} ms -> {t * 1000:.1f} ms ({n / first_n:.0f}x the cases)"))
        finally:
            database = app.extensions["bangban"].db
            if hasattr(database, "close_all"):
                database.close_all()
    return rows


if __name__ == "__main__":
    import argparse
    import tempfile

    from bench.report import Context, print_growth, print_rows

    parser = argparse.ArgumentParser()
    parser.add_argument("--db", default="sqlite,postgresql")
    parser.add_argument("--scales", default="10000,100000")
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        result = run(Context(tmp=Path(tmp), dbs=args.db.split(","), scales=[int(s) for s in args.scales.split(",")],
                             repeat=5, quick=args.quick))
        print_rows(result)
        print_growth(result)
