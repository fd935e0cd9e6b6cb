"""The back office through real HTTP requests with CSRF on, on SQLite and
PostgreSQL: every configured kind, validation, versions, scope and the
separated administrators."""
import re

import pytest
import yaml

from core.models import AuditEntry, Holiday, MetadataRecord, Staff
from tests.helpers import sign_in


def csrf_token(client, path):
    """The CSRF token of a page (Flask-Admin writes the attributes in another order)."""
    html = client.get(path).get_data(as_text=True)
    match = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', html)
    assert match, f"no CSRF token on {path}"
    return match.group(1)



def admin(app, username="county.admin"):
    client = app.test_client()
    assert sign_in(client, username).status_code == 302
    return client


def versions(app, kind, key):
    with app.app_context():
        return [(r.version, r.current) for r in MetadataRecord.select().where(
            (MetadataRecord.kind == kind) & (MetadataRecord.key == key)).order_by(MetadataRecord.version)]


def post_yaml(client, url, data, **extra):
    token = csrf_token(client, url)
    return client.post(url, data={"csrf_token": token, "content": yaml.safe_dump(data, allow_unicode=True), **extra})


def test_structured_item_edit_with_materials_creates_a_version(demo_app):
    client = admin(demo_app)
    key = "150626-ybj-003"
    page = client.get(f"/admin/items/edit/{key}").get_data(as_text=True)
    form = dict(re.findall(r'<input class="form-control[^"]*" (?:id="[^"]+" )?name="([^"]+)" value="([^"]*)"', page))
    rows = int(re.search(r'name="material_rows" value="(\d+)"', page).group(1))
    data = {"csrf_token": csrf_token(client, f"/admin/items/edit/{key}"), "structured": "1", "material_rows": rows,
            "name": "异地就医备案（修订）", "kind": "instant", "promised_days": "0", "levels": ["township", "village"],
            "online": "1", "m0_name": "居民身份证", "m0_form": "original", "m0_count": "1", "m0_key": "1",
            "m1_name": "异地就医备案表", "m1_form": "original", "m1_count": "2",
            "m1_fill_instructions": "用黑色签字笔填写", "m1_sample": "姓名：张某某"}
    assert form, "the structured form is on the page"
    response = client.post(f"/admin/items/edit/{key}", data=data)
    assert response.status_code == 302, response.get_data(as_text=True)[:3000]
    assert versions(demo_app, "items", key) == [(1, False), (2, True)]
    with demo_app.app_context():
        new = MetadataRecord.get((MetadataRecord.key == key) & MetadataRecord.current).content
    assert new["name"]["zh"] == "异地就医备案（修订）" and new["name"]["en"]  # other languages kept
    sample = new["materials"][1]["sample"]  # the Chinese box; the pack's Mongolian draft is kept beside it
    assert [m["count"] for m in new["materials"]] == [1, 2]
    assert (sample["zh"] if isinstance(sample, dict) else sample) == "姓名：张某某"
    old = client.get(f"/admin/items/edit/{key}?version=1").get_data(as_text=True)
    assert "不再是当前版本" in old


def test_invalid_item_is_refused_per_field_and_nothing_saved(demo_app):
    client = admin(demo_app)
    key = "150626-ybj-003"
    with demo_app.app_context():
        content = dict(MetadataRecord.get((MetadataRecord.key == key) & MetadataRecord.current).content)
    content["promised_days"] = 0.3
    content["department"] = "no_such_department"
    response = post_yaml(client, f"/admin/items/edit/{key}", content)
    html = response.get_data(as_text=True)
    assert "promised_days" in html and "no_such_department" in html
    assert versions(demo_app, "items", key) == [(1, True)]
    with demo_app.app_context():
        assert not AuditEntry.select().where(AuditEntry.action == "metadata.sync",
                                             AuditEntry.actor == "county.admin").exists()


@pytest.mark.parametrize("kind,data", [
    ("departments", {"code": "ylj", "name": {"zh": "旗应急管理局", "en": "Emergency Management Bureau"}}),
    ("regions", {"code": "150626100210", "level": "village", "name": "新建嘎查", "parent": "150626100"}),
    ("sites", {"code": "150626100210-station", "kind": "service_station", "name": "新建嘎查便民服务站",
               "region": "150626100", "standard": "village_station"}),
    ("rulesets", {"code": "wushen_2027", "name": "2027年目标", "region": "150626",
                  "targets": [{"metric": "one_window_rate", "level": "township", "min": 1.0}]}),
])
def test_create_each_kind_then_it_is_listed(demo_app, kind, data):
    client = admin(demo_app)
    with demo_app.app_context():
        pack = MetadataRecord.get((MetadataRecord.kind == kind) & (MetadataRecord.county_code == "150626")).pack
    response = post_yaml(client, f"/admin/{kind}/new", data, pack=pack)
    assert response.status_code == 302, response.get_data(as_text=True)[-3000:]
    assert versions(demo_app, kind, data["code"]) == [(1, True)]
    assert data["code"] in client.get(f"/admin/{kind}/").get_data(as_text=True)


def test_division_codes_are_validated(demo_app):
    client = admin(demo_app)
    with demo_app.app_context():
        pack = MetadataRecord.get((MetadataRecord.kind == "regions") & (MetadataRecord.county_code == "150626")).pack
    response = post_yaml(client, "/admin/regions/new", {"code": "1506261002", "level": "village", "name": "坏",
                                                        "parent": "150626100"}, pack=pack)
    assert response.status_code == 400 and "code" in response.get_data(as_text=True)
    assert versions(demo_app, "regions", "1506261002") == []


def test_national_roles_are_read_only_and_security_admin_edits_roles(demo_app):
    client = admin(demo_app)
    assert client.get("/admin/roles/").status_code == 403  # roles are the security administrator's
    security = admin(demo_app, "sec.admin")
    page = security.get("/admin/roles/edit/grid_agent").get_data(as_text=True)
    assert "readonly" in page  # national pack: not the county's to change
    response = post_yaml(security, "/admin/roles/edit/grid_agent", {"code": "grid_agent", "name": "改"})
    assert response.status_code == 404
    assert versions(demo_app, "roles", "grid_agent") == [(1, True)]


def test_staff_create_edit_and_deactivate(demo_app):
    client = admin(demo_app)
    token = csrf_token(client, "/admin/staff_admin/new/")
    response = client.post("/admin/staff_admin/new/", data={
        "csrf_token": token, "username": "new.agent", "name": "新代办员", "role": "grassroots_agent",
        "region": "150626101", "department": "", "active": "y", "password": "Xinmima@2026"})
    assert response.status_code == 302
    with demo_app.app_context():
        staff = Staff.get(Staff.username == "new.agent")
        assert staff.county_code == "150626" and staff.password_hash.startswith("$argon2id$")
        assert AuditEntry.select().where(AuditEntry.action == "admin.staff.create").count() == 1
    listing = client.get("/admin/staff_admin/?search=new.agent").get_data(as_text=True)
    assert "基层代办员" in listing  # readable names, not codes
    token = csrf_token(client, "/admin/staff_admin/")
    client.post("/admin/staff_admin/action/", data={"csrf_token": token, "action": "deactivate",
                                                    "rowid": [str(staff.id)]})
    with demo_app.app_context():
        assert Staff.get_by_id(staff.id).active is False


def test_no_delete_anywhere_and_audit_is_read_only(demo_app):
    client = admin(demo_app)
    with demo_app.app_context():
        staff_id = Staff.get(Staff.username == "galutu.agent").id
        before = AuditEntry.select().count()
    token = csrf_token(client, "/admin/staff_admin/")
    assert client.post("/admin/staff_admin/delete/", data={"csrf_token": token, "id": staff_id}).status_code == 302
    with demo_app.app_context():
        assert Staff.get_or_none(Staff.id == staff_id) is not None
    auditor = admin(demo_app, "audit.admin")
    assert auditor.get("/admin/audit_admin/").status_code == 200
    assert auditor.get("/admin/audit_admin/new/").status_code == 302
    token = csrf_token(auditor, "/")
    auditor.post("/admin/audit_admin/delete/", data={"csrf_token": token, "id": 1})
    with demo_app.app_context():
        assert AuditEntry.select().count() >= before


ADMIN_MATRIX = {
    # path: {role: allowed}
    "/admin/audit_admin/": {"sys.admin": False, "sec.admin": False, "audit.admin": True, "county.admin": False},
    # the security administrator opens the staff list to grant roles (administrator roles only by it)
    "/admin/staff_admin/": {"sys.admin": True, "sec.admin": True, "audit.admin": False, "county.admin": True},
    "/admin/roles/": {"sys.admin": False, "sec.admin": True, "audit.admin": False, "county.admin": False},
    "/admin/items/": {"sys.admin": False, "sec.admin": False, "audit.admin": False, "county.admin": True},
    "/admin/holiday_admin/": {"sys.admin": True, "sec.admin": False, "audit.admin": False, "county.admin": True},
}


def test_separated_administrators_role_matrix(demo_app):
    clients = {u: admin(demo_app, u) for u in ("sys.admin", "sec.admin", "audit.admin", "county.admin")}
    for path, allowed in ADMIN_MATRIX.items():
        for username, ok in allowed.items():
            status = clients[username].get(path).status_code
            assert (status == 200) == ok, (path, username, status)
    # none of the three separated administrators can open a case
    with demo_app.app_context():
        from core.cases.models import Case

        case_id = Case.select().first().id
    for username in ("sys.admin", "sec.admin", "audit.admin"):
        assert clients[username].get(f"/cases/{case_id}").status_code == 404
        assert "1506262" not in clients[username].get("/cases").get_data(as_text=True)


def test_holiday_calendar_edit_and_confirm(demo_app):
    client = admin(demo_app)
    token = csrf_token(client, "/admin/holiday_admin/new/")
    response = client.post("/admin/holiday_admin/new/", data={"csrf_token": token, "day": "2030-06-03",
                                                              "kind": "holiday", "name": "地方假日", "confirmed": "y"})
    assert response.status_code == 302
    with demo_app.app_context():
        row = Holiday.get(Holiday.name == "地方假日")
        assert row.source == "admin" and str(row.day) == "2030-06-03"
    token = csrf_token(client, "/admin/holiday_admin/")
    client.post("/admin/holiday_admin/confirm", data={"csrf_token": token, "year": "2031"})
    with demo_app.app_context():
        from core import workdays

        assert workdays.from_db().is_confirmed(2031)


def test_admin_post_without_csrf_is_refused(demo_app):
    client = admin(demo_app)
    response = client.post("/admin/departments/new", data={"content": "code: x\nname: y\n", "pack": "wushen"})
    assert response.status_code == 400
    assert versions(demo_app, "departments", "x") == []


def test_preview_shows_the_generated_form(demo_app):
    client = admin(demo_app)
    html = client.get("/admin/items/preview/150626-ybj-003").get_data(as_text=True)
    assert 'id="form-preview"' in html and 'name="applicant_id_number"' in html and 'name="material_1"' in html


def test_structured_save_of_an_unchanged_item_creates_no_version(demo_app):
    """Saving the structured form as it is loses nothing (labelled options,
    help texts, channels …) and so writes no new version."""
    client = admin(demo_app)
    key = "150626-ybj-003"
    page = client.get(f"/admin/items/edit/{key}").get_data(as_text=True)
    form = {"csrf_token": csrf_token(client, f"/admin/items/edit/{key}")}
    for name, value in re.findall(r'<input class="form-control[^"]*" (?:id="[^"]+" )?name="([^"]+)" value="([^"]*)"',
                                  page):
        form[name] = value.replace("&#34;", '"').replace("&amp;", "&")
    for name, value in re.findall(r'<input type="hidden" name="(structured|material_rows|field_rows)" value="([^"]*)"',
                                  page):
        form[name] = value
    for name, body in re.findall(r'<textarea class="form-control[^"]*" (?:id="[^"]+" )?name="([^"]+)"[^>]*>([^<]*)</textarea>',
                                 page):
        form[name] = body.replace("&#34;", '"').replace("&amp;", "&")
    for name, chosen in re.findall(r'<select class="form-control[^"]*" (?:id="[^"]+" )?name="([^"]+)"[^>]*>(.*?)</select>',
                                   page, flags=re.S):
        match = re.search(r'<option(?: value="([^"]*)")? selected>([^<]*)<', chosen)
        if match:
            form[name] = match.group(1) if match.group(1) is not None else match.group(2)
    form["levels"] = re.findall(r'name="levels" value="([^"]+)" checked', page)
    for flag in re.findall(r'name="([a-z0-9_]+)" value="1" checked', page):
        form[flag] = "1"
    response = client.post(f"/admin/items/edit/{key}", data=form)
    assert response.status_code == 302, response.get_data(as_text=True)[-2000:]
    assert versions(demo_app, "items", key) == [(1, True)]


def test_bulk_publish_withdraw_and_assign_sites(demo_app):
    client = admin(demo_app)
    codes = ["150626-rsj-013", "150626-sfj-003"]  # township-only items
    token = csrf_token(client, "/admin/items/")
    client.post("/admin/items/bulk", data={"csrf_token": token, "action": "publish", "level": "village", "code": codes})
    with demo_app.app_context():
        for code in codes:
            assert "village" in MetadataRecord.get((MetadataRecord.key == code) & MetadataRecord.current).content["levels"]
    assert all(versions(demo_app, "items", c) == [(1, False), (2, True)] for c in codes)
    client.post("/admin/items/bulk", data={"csrf_token": token, "action": "withdraw", "level": "village", "code": codes})
    assert all(versions(demo_app, "items", c)[-1] == (3, True) for c in codes)
    with demo_app.app_context():
        site = MetadataRecord.get((MetadataRecord.kind == "sites") & MetadataRecord.current).key
    client.post("/admin/items/bulk", data={"csrf_token": token, "action": "assign_sites", "site": [site],
                                           "code": codes})
    with demo_app.app_context():
        content = MetadataRecord.get((MetadataRecord.key == site) & MetadataRecord.current).content
    assert set(codes) <= set(content["items"])


def test_plugin_settings_resolve_narrowest_scope(demo_app):
    client = admin(demo_app)
    token = csrf_token(client, "/admin/plugin-settings/")
    client.post("/admin/plugin-settings/", data={"csrf_token": token, "plugin": "bank_partnership", "key": "notice",
                                                 "scope": "150626", "value": "全旗公告"})
    client.post("/admin/plugin-settings/", data={"csrf_token": token, "plugin": "bank_partnership", "key": "notice",
                                                 "scope": "150626100", "value": "嘎鲁图镇公告"})
    with demo_app.test_request_context():
        from core import settings

        assert settings.get("bank_partnership", "notice", region="150626100201") == "嘎鲁图镇公告"
        assert settings.get("bank_partnership", "notice", region="150626101") == "全旗公告"
        assert settings.get("bank_partnership", "counter_hours") == "工作日 9:00-17:00"
    page = demo_app.test_client().get("/bank/?region=150626100").get_data(as_text=True)
    assert "嘎鲁图镇公告" in page
    with demo_app.app_context():
        assert AuditEntry.select().where(AuditEntry.action == "admin.plugin_setting").count() == 2


def wait_for(client, job):
    import time

    for _ in range(300):
        state = client.get(f"/admin/catalog-io/job/{job['id']}").get_json()
        if state["status"] != "running":
            return state
        time.sleep(0.05)
    raise AssertionError("the job did not finish")


def test_catalog_export_then_import_in_the_back_office_is_a_no_op(demo_app, tmp_path):
    import io

    client = admin(demo_app)
    token = csrf_token(client, "/admin/catalog-io/")
    job = client.post("/admin/catalog-io/export", data={"csrf_token": token, "format": "xlsx"}).get_json()
    state = wait_for(client, job)
    assert state["status"] == "done" and state["total"] >= 100 and state["done"] == state["total"]
    workbook = client.get(state["download"]).data
    with demo_app.app_context():
        before = MetadataRecord.select().count()
    job = client.post("/admin/catalog-io/import", data={"csrf_token": token,
                                                        "file": (io.BytesIO(workbook), "catalog.xlsx")},
                      content_type="multipart/form-data").get_json()
    state = wait_for(client, job)
    assert state["status"] == "done", state
    assert state["counts"]["added"] == state["counts"]["changed"] == 0
    with demo_app.app_context():
        assert MetadataRecord.select().count() == before
    # someone else cannot read this admin's job
    assert admin(demo_app, "sys.admin").get(f"/admin/catalog-io/job/{job['id']}").status_code == 403


def test_catalog_import_reports_every_problem_with_sheet_row_column(demo_app):
    import io

    from openpyxl import load_workbook

    client = admin(demo_app)
    token = csrf_token(client, "/admin/catalog-io/")
    state = wait_for(client, client.post("/admin/catalog-io/export",
                                         data={"csrf_token": token, "format": "xlsx"}).get_json())
    book = load_workbook(io.BytesIO(client.get(state["download"]).data))
    items = book["事项"]
    headers = [c.value for c in items[1]]
    items.cell(row=3, column=headers.index("办件类型") + 1, value="加急件")
    items.cell(row=4, column=headers.index("实施部门") + 1, value="no_such_dept")
    out = io.BytesIO()
    book.save(out)
    with demo_app.app_context():
        before = MetadataRecord.select().count()
    state = wait_for(client, client.post("/admin/catalog-io/import", data={
        "csrf_token": token, "file": (io.BytesIO(out.getvalue()), "bad.xlsx")},
        content_type="multipart/form-data").get_json())
    assert state["status"] == "invalid"
    text = "\n".join(state["problems"])
    assert re.search(r"事项!\w+3", text) and re.search(r"事项!\w+4", text) and "no_such_dept" in text
    with demo_app.app_context():
        assert MetadataRecord.select().count() == before


def test_catalog_job_is_followed_through_another_worker_process(demo_app, make_app):
    """``bangban serve`` runs several worker processes, and the page's polls
    reach any of them: a second app on the same data directory and database
    (another worker, its own memory) answers the job's progress and its
    download for the same browser."""
    other = make_app()
    client = admin(demo_app)
    token = csrf_token(client, "/admin/catalog-io/")
    job = client.post("/admin/catalog-io/export", data={"csrf_token": token, "format": "xlsx"}).get_json()
    state = wait_for(client, job)
    assert state["status"] == "done", state
    browser = other.test_client()
    browser.set_cookie("session", client.get_cookie("session").value)
    seen = browser.get(f"/admin/catalog-io/job/{job['id']}")
    assert seen.status_code == 200 and seen.get_json() == state
    workbook = browser.get(state["download"])
    assert workbook.status_code == 200 and workbook.data == client.get(state["download"]).data
    assert workbook.data[:4] == b"PK\x03\x04"
    assert browser.get("/admin/catalog-io/job/" + "0" * 32).status_code == 404
    assert browser.get("/admin/catalog-io/job/..%2Fsecret").status_code == 404
