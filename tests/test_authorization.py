"""Randomized authorization: users of every role and scope against every
record-level route, the list, the count, the exports and the JSON API, over
thousands of generated cases in two counties. Nothing out of scope may show,
and no full ID number or phone may appear anywhere."""
import datetime
import random
import re

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from core import personal
from core.auth import hash_password
from core.cases.demo import id_number
from core.cases.models import Case, Commission, Subtask
from core.db import transaction
from core.demo import load_demo
from core.models import MetadataRecord, Region, Staff
from tests.conftest import _reset_pg
from tests.helpers import sign_in

GENERATED = 2000
_ROOT = __import__("pathlib").Path(__file__).parent.parent
ROLE_PERMISSIONS = {r["code"]: set(r.get("permissions", []))  # the core's roles and the bank plugin's
                    for path in ("metadata/core/roles.yaml", "plugins/bank_partnership/metadata/roles.yaml")
                    for r in __import__("yaml").safe_load((_ROOT / path).read_text("utf-8"))["roles"]}
OTHER_COUNTY = "411325"  # 内乡县: a second tenant in the same database


def oracle(user, case, parts):
    """Independent reading of the scope rules (roles.yaml's ``scope``)."""
    if user.county_code != case["county_code"]:
        return False
    role = user.role
    if role in ("system_admin", "security_admin", "audit_admin"):
        return False
    if role in ("supervisor", "stage_tracker", "county_admin"):
        return True
    if role in ("grassroots_agent", "project_specialist"):
        return case["township_code"] == user.region[:9]
    if role == "grid_agent":
        if len(user.region) == 15:
            return case["group_code"] == user.region
        return case["village_code"] == user.region
    if role == "department_helper":
        return case["department"] == user.department or user.department in parts.get(case["id"], ())
    if role == "partner_staff":  # scope own: none of the generated cases is theirs
        return False
    raise AssertionError(role)


@pytest.fixture(scope="module", params=[  # one xdist worker builds each world (``--dist loadgroup``)
    pytest.param("sqlite", marks=pytest.mark.xdist_group("authorization-sqlite")),
    pytest.param("postgres", marks=pytest.mark.xdist_group("authorization-postgres"))])
def world(tmp_path_factory, request):
    """One database (SQLite, then PostgreSQL) with the demo and thousands of
    random cases."""
    from core import create_app, db

    tmp = tmp_path_factory.mktemp("authz")
    if request.param == "sqlite":
        url = f"sqlite:///{tmp / 'a.db'}"
    else:
        url = request.getfixturevalue("pg_url")
        _reset_pg(url)
    app = create_app(data_dir=str(tmp), database_url=url, plugins="wushen,bank_partnership", secret_key="authz")
    with app.app_context():
        db.migrate()
        load_demo(app.extensions["bangban"].pm, "Bangban@2026")
        rng = random.Random(20261125)
        record = MetadataRecord.get((MetadataRecord.kind == "items") & MetadataRecord.current)
        villages = [r.code for r in Region.select().where(Region.level == "village")]
        groups = [r.code for r in Region.select().where(Region.level == "group")]
        departments = ["rsj", "ybj", "mzj", "nmj", "gaj", None]
        owner = Staff.get(Staff.username == "galutu.agent").id
        with transaction():
            Staff.create(username="neixiang.admin", name="内乡管理员", role="county_admin", region=OTHER_COUNTY,
                         county_code=OTHER_COUNTY, password_hash=hash_password("Bangban@2026"))
            Staff.create(username="neixiang.supervisor", name="内乡督办员", role="supervisor", region=OTHER_COUNTY,
                         county_code=OTHER_COUNTY, password_hash=hash_password("Bangban@2026"))
            rows = []
            for n in range(GENERATED):
                other = n % 10 == 0
                village = rng.choice(villages)
                group = rng.choice(groups) if village in {g[:12] for g in groups} and rng.random() < .3 else None
                if group:
                    village = group[:12]
                county = OTHER_COUNTY if other else "150626"
                township = f"{OTHER_COUNTY}100" if other else village[:9]
                pid = id_number(county, f"19{rng.randint(40, 99)}0{rng.randint(1, 9)}1{rng.randint(0, 9)}",
                                rng.randint(100, 999))
                phone = f"13{rng.randint(100000000, 999999999)}"
                rows.append(dict(
                    county_code=county, number=f"{county}-20260101-{n:05d}", item_code=record.key,
                    item_record=record.id, item_version=1, kind="promised", workflow="five_steps",
                    state=rng.choice(["applied", "accepted", "handling", "finished", "archived"]),
                    township_code=township, village_code=None if other else village,
                    group_code=None if other else group, owner=owner, department=rng.choice(departments),
                    applicant_name=f"申请人{n}", applicant_id_number=personal.encrypt(pid, "cases.applicant_id_number"),
                    applicant_phone=personal.encrypt(phone, "cases.applicant_phone"), data={},
                    created_at=datetime.datetime(2026, 1, 1), updated_at=datetime.datetime(2026, 1, 1)))
            for start in range(0, len(rows), 200):
                Case.insert_many(rows[start:start + 200]).execute()
            made = list(Case.select(Case.id, Case.county_code).where(Case.number.contains("-20260101-")))
            for start in range(0, len(made), 200):
                Commission.insert_many([dict(county_code=c.county_code, case=c.id, principal={}, materials=[],
                                             powers=[], created_by=owner) for c in made[start:start + 200]]).execute()
            ids = [c.id for c in made if c.county_code == "150626"]
            for case_id in rng.sample(ids, 60):  # joint parts for other departments
                Subtask.create(county_code="150626", case=case_id, department=rng.choice(["wjw", "rsj"]))
        cases = {c["id"]: c for c in Case.select(Case.id, Case.county_code, Case.township_code, Case.village_code,
                                                 Case.group_code, Case.department, Case.number).dicts()}
        parts = {}
        for p in Subtask.select():
            parts.setdefault(p.case_id, set()).add(p.department)
        secrets = set()
        for c in Case.select():
            secrets.add(c.id_number())
            secrets.add(c.phone())
        users = list(Staff.select())
    clients = {}
    for n, user in enumerate(users):
        client = app.test_client()
        client.environ_base["REMOTE_ADDR"] = f"127.0.{n // 250}.{n % 250 + 1}"  # one desk each (sign-in rate limit)
        assert sign_in(client, user.username).status_code == 302, user.username
        clients[user.username] = client
    yield dict(app=app, cases=cases, parts=parts, users=users, clients=clients, secrets=secrets)
    database = app.extensions["bangban"].db
    database.close_all() if request.param == "postgres" else database.close()


def visible(world, user):
    return {cid for cid, c in world["cases"].items() if oracle(user, c, world["parts"])}


def assert_no_secret(world, text):
    leaked = [s for s in world["secrets"] if s in text]
    assert leaked == [], f"{len(leaked)} full ID numbers or phones leaked"


def test_every_user_sees_exactly_their_scope_in_lists_counts_exports_and_api(world):
    assert len(world["cases"]) >= GENERATED
    roles = {u.role for u in world["users"]}
    assert {"grassroots_agent", "grid_agent", "department_helper", "supervisor", "county_admin",
            "system_admin", "security_admin", "audit_admin", "stage_tracker", "project_specialist"} <= roles
    by_number = {c["number"]: cid for cid, c in world["cases"].items()}
    for user in world["users"]:
        client = world["clients"][user.username]
        expected = visible(world, user)
        if "ledger.read" not in ROLE_PERMISSIONS[user.role]:  # no ledger at all: refused, not an empty list
            assert not expected
            for path in ("/api/cases", "/api/cases/count", "/cases/export.csv", "/cases/export.xlsx"):
                assert client.get(path).status_code == 403, (user.username, path)
            continue
        api, offset = [], 0
        while True:
            response = client.get(f"/api/cases?offset={offset}&limit=500")
            page_rows = response.get_json()
            api += page_rows
            offset += 500
            if len(page_rows) < 500:
                break
        assert int(response.headers["X-Total-Count"]) == len(expected)
        assert {r["id"] for r in api} == expected, user.username
        assert client.get("/api/cases/count").get_json()["count"] == len(expected), user.username
        csv_text = client.get("/cases/export.csv").get_data(as_text=True)
        numbers = set(re.findall(r"^(\d{6}-\d{8}-\d{4,5})", csv_text, flags=re.M))
        assert {by_number[n] for n in numbers} == expected, user.username
        assert_no_secret(world, csv_text)
        assert_no_secret(world, str(api))
        xlsx = client.get("/cases/export.xlsx")
        assert xlsx.status_code == 200
        page = client.get("/cases").get_data(as_text=True)
        shown = {by_number[n] for n in re.findall(r">(\d{6}-\d{8}-\d{4,5})<", page)}
        assert shown <= expected, user.username


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture,
                                                                 HealthCheck.too_slow])
@given(data=st.data())
def test_record_level_routes_answer_404_outside_scope(world, data):
    user = data.draw(st.sampled_from(world["users"]))
    client = world["clients"][user.username]
    expected = visible(world, user)
    ids = data.draw(st.lists(st.sampled_from(sorted(world["cases"])), min_size=1, max_size=6))
    for case_id in ids:
        ok = case_id in expected
        for path in (f"/cases/{case_id}", f"/cases/{case_id}/receipt", f"/cases/{case_id}/commission",
                     f"/api/cases/{case_id}"):
            response = client.get(path)
            refused = 403 if path.startswith("/api/") and "ledger.read" not in ROLE_PERMISSIONS[user.role] else 404
            assert response.status_code == (200 if ok else refused), (user.username, path, response.status_code)
            assert_no_secret(world, response.get_data(as_text=True))


def test_back_office_is_scoped_to_the_county(world):
    """Another county's administrator sees none of 乌审旗's staff, items or
    audit entries, and cannot open them by id."""
    other = world["clients"]["neixiang.admin"]
    own = world["clients"]["county.admin"]
    listing = other.get("/admin/staff_admin/").get_data(as_text=True)
    assert "neixiang.supervisor" in listing and "galutu.agent" not in listing
    with world["app"].app_context():
        galutu = Staff.get(Staff.username == "galutu.agent").id
    page = other.get(f"/admin/staff_admin/edit/?id={galutu}", follow_redirects=True).get_data(as_text=True)
    assert "galutu.agent" not in page
    assert other.get("/admin/items/edit/150626-ybj-003").status_code == 404
    # searched for it (the list is paged): the other county's list has no row (no edit link) for it
    assert "/admin/items/edit/150626-ybj-003" not in other.get("/admin/items/?q=150626-ybj-003").get_data(as_text=True)
    assert "/admin/items/edit/150626-ybj-003" in own.get("/admin/items/?q=150626-ybj-003").get_data(as_text=True)
    auditor = world["clients"]["audit.admin"]
    assert "neixiang.admin" not in auditor.get("/admin/audit_admin/?search=neixiang").get_data(as_text=True)
