"""Bad input answers 400 or 404 with a message in the user's language, never
a 500, and writes nothing: ids beyond the database's integers, query-string
integers out of bounds, NUL characters, names made of invisible characters,
absurd numbers and dates in generated forms. Real HTTP requests (CSRF on),
on SQLite and PostgreSQL."""
import re

from core.cases.demo import id_number
from core.cases.models import Case, CaseEvent, Commission
from core.models import AuditEntry
from tests.helpers import csrf_token, sign_in

VILLAGE = "150626100201"
DATE_ITEM = "150626-ybj-003"  # 异地就医备案: a date field (start_date)
NUMBER_ITEM = "150626-mzj-003"  # 最低生活保障申请: an integer and a decimal field
BIGINT_MAX = 2**63 - 1
BEYOND = ["9223372036854775808", "99999999999999999999999", "0", "9" * 5000]


def fill(spec, **overrides):
    """A valid submission of a form spec (the JSON of /api/items/<code>/form)."""
    data = {"applicant_name": "巴图", "applicant_id_number": id_number("150626", "19851120", 21),
            "applicant_phone": "13847700001", "applicant_division": VILLAGE, "principal_is_applicant": "true"}
    samples = {"date": "2026-12-01", "material": "on", "yes_no": "true", "integer": "3", "decimal": "12000.50",
               "id_number": id_number("150626", "19700101", 33), "mobile": "13847700002", "division": VILLAGE}
    for section in spec["sections"]:
        for field in section["fields"]:
            if field["name"] in data or not field.get("required"):
                continue
            if field["type"] in ("choice", "multi_choice"):
                data[field["name"]] = str(field["options"][0]["value"])
            else:
                data[field["name"]] = samples.get(field["type"], "内蒙古自治区人民医院")
    data.update(overrides)
    return data


def agent(app, username="galutu.agent"):
    client = app.test_client()
    assert sign_in(client, username).status_code == 302
    return client


def written(app):
    with app.app_context():
        return (Case.select().count(), Commission.select().count(), CaseEvent.select().count(),
                AuditEntry.select().count())


def submit(client, item, lang="en", **overrides):
    data = fill(client.get(f"/api/items/{item}/form").get_json(), **overrides)
    data["csrf_token"] = csrf_token(client, f"/cases/new/{item}")
    return client.post(f"/cases/new/{item}?lang={lang}", data=data)


def field_error(html, name):
    match = re.search(rf'id="f-{name}-error"[^>]*><p>(.*?)</p>', html, re.S)
    return match.group(1) if match else None


def test_the_form_filler_files_a_valid_case(demo_app):
    """The baseline the refusals below differ from by one value."""
    client = agent(demo_app)
    before = written(demo_app)
    for item in (DATE_ITEM, NUMBER_ITEM):
        response = submit(client, item)
        assert response.status_code == 302, response.get_data(as_text=True)[:1000]
    assert written(demo_app)[0] == before[0] + 2


def test_ids_beyond_the_database_answer_404_in_the_users_language(demo_app):
    client = agent(demo_app)
    before = written(demo_app)
    token = csrf_token(client, "/cases")
    for bad in BEYOND:
        for path in (f"/cases/{bad}", f"/cases/{bad}/receipt", f"/cases/{bad}/commission"):
            response = client.get(f"{path}?lang=zh_Hans_CN")
            assert response.status_code == 404, path[:60]
            assert "未找到相关内容" in response.get_data(as_text=True), path[:60]
        response = client.get(f"/api/cases/{bad}?lang=en")
        assert response.status_code == 404 and "does not exist" in response.get_json()["error"], bad[:30]
        response = client.post(f"/cases/{bad}/take/accept", data={"csrf_token": token})
        assert response.status_code == 404, bad[:30]
    # the largest id the database holds is looked up, and simply not found
    assert client.get(f"/cases/{BIGINT_MAX}").status_code == 404
    assert client.get(f"/api/cases/{BIGINT_MAX}").status_code == 404
    assert written(demo_app) == before


QUERIES = ["offset=99999999999999999999999", "offset=-1", "offset=abc", "offset=1e3", "limit=0", "limit=1001",
           "limit=99999999999999999999999"]


def test_query_integers_out_of_bounds_answer_400(demo_app):
    client = agent(demo_app)
    for query in QUERIES:
        response = client.get(f"/api/cases?{query}&lang=en")
        assert response.status_code == 400, query
        name = query.split("=")[0]
        assert re.fullmatch(rf"{name} must be a whole number from \d+ to \d+\.", response.get_json()["error"])


def test_query_integers_at_their_bounds_are_served(demo_app):
    client = agent(demo_app)
    everything = client.get("/api/cases?offset=0&limit=1000")
    assert everything.status_code == 200 and len(everything.get_json()) >= 10
    assert client.get(f"/api/cases?offset={BIGINT_MAX}&limit=1").get_json() == []


def test_a_nul_character_anywhere_is_refused_and_nothing_is_written(demo_app):
    client = agent(demo_app)
    before = written(demo_app)
    for overrides in ({"applicant_name": "巴\x00图"}, {"applicant_name": "\x00"}, {"destination": "北京\x00"},
                      {"applicant_id_number": id_number("150626", "19851120", 21) + "\x00"}):
        response = submit(client, DATE_ITEM, **overrides)
        assert response.status_code == 400, overrides
        assert "contains a NUL character" in response.get_data(as_text=True), overrides
    for path in ("/cases?state=%00&lang=en", "/track/150626-20261202-0001%00?lang=en", "/guides?q=a%00&lang=en"):
        response = client.get(path)
        assert response.status_code == 400 and "contains a NUL character" in response.get_data(as_text=True), path
    public = demo_app.test_client()
    response = public.post("/track?lang=en", data={"number": "150626-20261202-0001\x00", "phone_digits": "0001",
                                                    "csrf_token": csrf_token(public, "/track")})
    assert response.status_code == 400
    assert written(demo_app) == before


INVISIBLE = ["\u200b", "\ufeff", "\u202e", "\u200b\u200c\u200d\u2060\ufeff", "\u202e\u0301"]
CONTROL = ["巴\u202e图", "巴\x07图", "巴\u2066图\u2069"]


def test_names_of_invisible_or_control_characters_are_refused_per_field(demo_app):
    client = agent(demo_app)
    before = written(demo_app)
    for names, expected in ((INVISIBLE, "Enter visible text: this holds only invisible characters."),
                            (CONTROL, "Remove the control characters (invisible codes) from this text.")):
        for name in names:
            response = submit(client, DATE_ITEM, applicant_name=name)
            assert response.status_code == 400, ascii(name)
            assert field_error(response.get_data(as_text=True), "applicant_name") == expected, ascii(name)
    assert written(demo_app) == before


def test_invisible_characters_around_a_name_are_dropped(demo_app):
    client = agent(demo_app)
    response = submit(client, DATE_ITEM, applicant_name="\ufeff\u200b巴图\u200b ")
    assert response.status_code == 302
    with demo_app.app_context():
        assert Case.select().order_by(Case.id.desc()).first().applicant_name == "巴图"


OUT_OF_BOUNDS = [
    (DATE_ITEM, "start_date", "0001-01-01"), (DATE_ITEM, "start_date", "9999-12-31"),
    (DATE_ITEM, "start_date", "1899-12-31"), (DATE_ITEM, "start_date", "2026-13-01"),
    (NUMBER_ITEM, "household_size", "9" * 5000), (NUMBER_ITEM, "household_size", "1000000000000"),
    (NUMBER_ITEM, "household_size", "-1000000000000"), (NUMBER_ITEM, "household_size", "9" * 30),
    (NUMBER_ITEM, "annual_income", "1E+309"), (NUMBER_ITEM, "annual_income", "NaN"),
    (NUMBER_ITEM, "annual_income", "sNaN"), (NUMBER_ITEM, "annual_income", "Infinity"),
    (NUMBER_ITEM, "annual_income", "-Infinity"), (NUMBER_ITEM, "annual_income", "1e-7"),
    (NUMBER_ITEM, "annual_income", "9" * 5000),
]


def test_numbers_and_dates_in_generated_forms_have_bounds(demo_app):
    client = agent(demo_app)
    before = written(demo_app)
    for item, field, value in OUT_OF_BOUNDS:
        response = submit(client, item, **{field: value})
        assert response.status_code == 400, (field, value[:40])
        assert field_error(response.get_data(as_text=True), field), (field, value[:40])
    assert written(demo_app) == before


def test_numbers_and_dates_at_their_bounds_are_kept(demo_app):
    client = agent(demo_app)
    response = submit(client, NUMBER_ITEM, household_size="999999999999", annual_income="1E+3")
    assert response.status_code == 302
    response = submit(client, DATE_ITEM, start_date="2099-12-31")
    assert response.status_code == 302
    with demo_app.app_context():
        last = list(Case.select().order_by(Case.id.desc()).limit(2))
    assert last[0].data["start_date"] == "2099-12-31"
    assert last[1].data["household_size"] == 999999999999 and last[1].data["annual_income"] == "1000"


def test_form_integers_of_staff_pages_answer_400_and_nothing_changes(demo_app):
    client = agent(demo_app, "county.supervisor")
    with demo_app.app_context():
        case = Case.select().where(Case.finished_on.is_null()).order_by(Case.id).first()
    before = written(demo_app)
    token = csrf_token(client, f"/cases/{case.id}")
    response = client.post(f"/cases/{case.id}/supervise?lang=en", data={
        "action": "reassign_owner", "staff": "99999999999999999999999", "reason": "x", "csrf_token": token})
    assert response.status_code == 400 and "staff must be a whole number" in response.get_data(as_text=True)
    for days in ("inf", "nan", "1e400"):
        response = client.post(f"/cases/{case.id}/supervise", data={
            "action": "extend", "days": days, "reason": "x", "csrf_token": token})
        assert response.status_code == 302, days
    response = client.post("/handover?lang=en", data={"from": "abc", "to": "1", "csrf_token": token})
    assert response.status_code == 400 and "from must be a whole number" in response.get_data(as_text=True)
    assert written(demo_app) == before
    with demo_app.app_context():
        assert Case.get_by_id(case.id).extended_days == case.extended_days


def test_a_foreign_400_is_answered_in_the_users_language(demo_app):
    """A refused CSRF token (400 from Flask-WTF) gets the translated page."""
    client = demo_app.test_client()
    response = client.post("/sign-in?lang=en", data={"username": "x", "password": "y"})
    assert response.status_code == 400
    assert "could not be understood" in response.get_data(as_text=True)


def test_back_office_page_ids_and_selected_rows_beyond_the_database_answer_400(demo_app):
    """Flask-Admin's list page, record id and action rows, for every model view."""
    from core.models import Staff

    staff = agent(demo_app, "county.admin")
    auditor = agent(demo_app, "audit.admin")
    with demo_app.app_context():
        active = Staff.select().where(Staff.active).count()
    before = written(demo_app)
    for client, view in ((staff, "staff_admin"), (staff, "holiday_admin"), (auditor, "audit_admin")):
        for query in ("page=99999999999999999999999", "page=-5", "page=x"):
            response = client.get(f"/admin/{view}/?{query}&lang=en")
            assert response.status_code == 400, (view, query)
            assert "page must be a whole number" in response.get_data(as_text=True)
        for page in ("edit", "details"):
            response = client.get(f"/admin/{view}/{page}/?id=99999999999999999999999&lang=en")
            assert response.status_code == 400 and "id must be a whole number" in response.get_data(as_text=True)
    token = csrf_token(staff, "/admin/staff_admin/")
    for rowid in ("99999999999999999999999", "abc"):
        response = staff.post("/admin/staff_admin/action/?lang=en", data={
            "action": "deactivate", "rowid": ["1", rowid], "csrf_token": token})
        assert response.status_code == 400 and "rowid must be a whole number" in response.get_data(as_text=True)
    assert written(demo_app) == before
    with demo_app.app_context():
        assert Staff.select().where(Staff.active).count() == active


def test_a_form_part_without_a_readable_name_is_refused_not_a_server_error(demo_app):
    """A multipart part whose name holds a line break (schemathesis sent one)
    reaches werkzeug as the key None; it used to end in a TypeError (500)."""
    client = agent(demo_app)
    before = written(demo_app)
    body = ('--bb\r\nContent-Disposition: form-data; name="applicant\nname"\r\n\r\ntrue\r\n'
            '--bb\r\nContent-Disposition: form-data; name="normalise"\r\n\r\nx\r\n--bb--\r\n').encode()
    response = client.post(f"/api/items/{DATE_ITEM}/cases?lang=en", data=body,
                           headers={"Content-Type": "multipart/form-data; boundary=bb"})
    assert response.status_code == 400
    assert "A part of the form has no readable name." in response.get_data(as_text=True)
    assert written(demo_app) == before
