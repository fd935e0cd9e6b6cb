"""The token API: tokens issued and revoked in the back office (hashed at
rest, audited, shown once), bearer requests with the staff member's own
permissions and area, CSRF still required of cookie requests; a client
that knows only /api/openapi.json files a case (with an upload) and moves
it; schemathesis finds no server error and no response outside the
document. On SQLite and PostgreSQL."""
from __future__ import annotations

import hashlib
import io
import re

from core import tokens
from core.cases.demo import id_number
from core.cases.models import Case, CaseEvent
from core.models import AuditEntry, Staff
from tests.helpers import csrf_token, sign_in
from tests.test_uploads import ITEM as SCAN_ITEM, PNG, with_scan_field

VILLAGE = "150626100201"  # 嘎鲁图镇's first village (galutu.agent's township; taoli.grid's is another)


def issue_in_back_office(app, username):
    """Issue a token for ``username`` as the county administrator, through
    the back office page; return the token shown once."""
    admin = app.test_client()
    assert sign_in(admin, "county.admin").status_code == 302
    page = admin.get("/admin/api-tokens/").get_data(as_text=True)
    with app.app_context():
        staff_id = Staff.get(Staff.username == username).id
    assert f'value="{staff_id}"' in page
    token = re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)
    response = admin.post("/admin/api-tokens/", data={"csrf_token": token, "staff": str(staff_id),
                                                      "name": "手机 1"})
    assert response.status_code == 200
    shown = re.search(r'<code id="issued-token">([^<]+)</code>', response.get_data(as_text=True)).group(1)
    return admin, shown


def bearer(token):
    return {"Authorization": f"Bearer {token}"}


def test_token_is_shown_once_kept_as_its_hash_audited_and_revocable(demo_app):
    admin, token = issue_in_back_office(demo_app, "galutu.agent")
    client = demo_app.test_client()
    me = client.get("/api/me", headers=bearer(token))
    assert me.status_code == 200
    assert me.get_json()["username"] == "galutu.agent" and me.get_json()["via"] == "token"
    with demo_app.app_context():
        row = tokens.ApiToken.get()
        assert row.token_hash == hashlib.sha256(token.encode()).hexdigest()
        assert row.last_used is not None
        stored = " ".join(str(v) for v in tokens.ApiToken.select().dicts().get().values())
        assert token not in stored
        issued = AuditEntry.select().where(AuditEntry.action == "api_token.issue").get()
        assert token not in issued.payload
    # the list shows it again only without the secret
    assert token not in admin.get("/admin/api-tokens/").get_data(as_text=True)
    page = admin.get("/admin/api-tokens/").get_data(as_text=True)
    form = re.search(r'action="([^"]+/revoke)"', page).group(1)
    assert admin.post(form, data={"csrf_token": re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)}
                      ).status_code == 302
    refused = client.get("/api/me", headers=bearer(token))
    assert refused.status_code == 401
    assert refused.headers["WWW-Authenticate"].startswith("Bearer")
    with demo_app.app_context():
        assert AuditEntry.select().where(AuditEntry.action == "api_token.revoke").count() == 1
    assert client.get("/api/me", headers=bearer("bb_" + "x" * 43)).status_code == 401
    # a bearer token opens nothing outside /api/
    assert client.get("/cases", headers=bearer(token)).status_code == 302


def test_no_token_for_an_administrator_nor_a_disabled_account(demo_app):
    admin = demo_app.test_client()
    assert sign_in(admin, "county.admin").status_code == 302
    page = admin.get("/admin/api-tokens/").get_data(as_text=True)
    with demo_app.app_context():
        sysadmin = Staff.get(Staff.username == "sys.admin")
    assert f'value="{sysadmin.id}"' not in page
    token = re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)
    response = admin.post("/admin/api-tokens/", data={"csrf_token": token, "staff": str(sysadmin.id), "name": "x"})
    assert response.status_code == 400
    with demo_app.app_context():
        assert tokens.ApiToken.select().count() == 0
    # a token of a staff member disabled later stops working
    _admin, agent_token = issue_in_back_office(demo_app, "galutu.agent")
    with demo_app.app_context():
        Staff.update(active=False).where(Staff.username == "galutu.agent").execute()
    assert demo_app.test_client().get("/api/me", headers=bearer(agent_token)).status_code == 401


def _operations(document):
    return {op["operationId"]: (method.upper(), path) for path, item in document["paths"].items()
            for method, op in item.items()}


def _call(client, document, op_id, token, *, json=None, data=None, query=None, **params):
    method, path = _operations(document)[op_id]
    names = {p["name"] for p in document["paths"][path][method.lower()].get("parameters", []) if p["in"] == "query"}
    assert set(query or {}) <= names
    for name, value in params.items():
        path = path.replace("{" + name + "}", str(value))
    kwargs = {"json": json} if json is not None else ({"data": data, "content_type": "multipart/form-data"}
                                                      if data is not None else {})
    return client.open(path, method=method, headers=bearer(token), query_string=query, **kwargs)


def _answers(spec):
    """Answers to a form spec, by field type, for a person made up here."""
    samples = {"text": "巴图", "id_number": id_number("150626", "19851120", 61), "mobile": "13847700061",
               "division": VILLAGE, "date": "2026-12-01", "material": True, "yes_no": True, "integer": 3,
               "decimal": "12000.50"}
    answers = {}
    for section in spec["sections"]:
        for field in section["fields"]:
            if not field.get("required") or field["type"] == "file":
                continue
            if field["type"] in ("choice", "multi_choice"):
                answers[field["name"]] = str(field["options"][0]["value"])
            else:
                answers[field["name"]] = samples[field["type"]]
    return answers


def test_a_client_written_from_the_document_files_a_case_with_an_upload_and_moves_it(demo_app):
    with_scan_field(demo_app)
    _admin, token = issue_in_back_office(demo_app, "galutu.agent")
    client = demo_app.test_client()
    document = client.get("/api/openapi.json").get_json()
    assert document["openapi"].startswith("3.")
    items = _call(client, document, "listItems", token, query={"q": SCAN_ITEM}).get_json()
    assert SCAN_ITEM in [i["code"] for i in items]
    spec = _call(client, document, "getItemForm", token, code=SCAN_ITEM).get_json()
    answers = _answers(spec)
    assert "scan" in [f["name"] for s in spec["sections"] for f in s["fields"]]
    # without the required scan: refused, by the same schema as the web form
    refused = _call(client, document, "fileCase", token, json=answers, code=SCAN_ITEM)
    assert refused.status_code == 400 and "scan" in refused.get_json()["errors"]
    data = {k: ("true" if v is True else str(v)) for k, v in answers.items()}
    data["scan"] = (io.BytesIO(PNG), "scan.png")
    filed = _call(client, document, "fileCase", token, data=data, code=SCAN_ITEM)
    assert filed.status_code == 201, filed.get_json()
    case_id = filed.get_json()["id"]
    assert filed.get_json()["state"] == "applied"
    steps = _call(client, document, "listCaseSteps", token, case_id=case_id).get_json()["steps"]
    accept = next(s for s in steps if s["to"] == "accepted" and not s["requires"])
    moved = _call(client, document, "takeStep", token, json={}, case_id=case_id, code=accept["code"])
    assert moved.status_code == 200 and moved.get_json()["state"] == "accepted"
    case = _call(client, document, "getCase", token, case_id=case_id).get_json()
    assert case["state_code"] == "accepted" and case["applicant"] == "巴图"
    assert case["id_number"] != answers["applicant_id_number"]  # masked
    with demo_app.app_context():
        stored = Case.get_by_id(case_id)
        assert stored.data["scan"]["type"] == "png"
        assert [e.action for e in CaseEvent.select().where(CaseEvent.case == case_id).order_by(CaseEvent.id)] == [
            "apply", accept["code"]]
        assert AuditEntry.select().where((AuditEntry.action == f"case.{accept['code']}")
                                         & (AuditEntry.entity == f"case:{stored.number}")
                                         & (AuditEntry.actor == "galutu.agent")).count() == 1
    # a step again from the new state is a conflict, and changes nothing
    again = _call(client, document, "takeStep", token, json={}, case_id=case_id, code=accept["code"])
    assert again.status_code == 409 and again.get_json()["error"]


def test_a_token_reaches_only_what_its_staff_member_may(demo_app):
    _admin, agent = issue_in_back_office(demo_app, "galutu.agent")  # 嘎鲁图镇 (township)
    _admin, grid = issue_in_back_office(demo_app, "wushen.buridu.grid")  # village 150626100202 of it
    client = demo_app.test_client()
    spec = client.get(f"/api/items/{SCAN_ITEM}/form", headers=bearer(agent)).get_json()
    filed = client.post(f"/api/items/{SCAN_ITEM}/cases", json=_answers(spec), headers=bearer(agent))
    assert filed.status_code == 201
    case_id = filed.get_json()["id"]
    # the grid agent works in another village: the case is not there for them
    assert client.get(f"/api/cases/{case_id}", headers=bearer(grid)).status_code == 404
    assert client.get(f"/api/cases/{case_id}/steps", headers=bearer(grid)).status_code == 404
    assert client.post(f"/api/cases/{case_id}/steps/accept", json={}, headers=bearer(grid)).status_code == 404
    with demo_app.app_context():
        assert Case.get_by_id(case_id).state == "applied"
    # a case in the grid agent's village: they read it, but may not decline it (their role lacks case.decline)
    own = client.post(f"/api/items/{SCAN_ITEM}/cases", headers=bearer(grid),
                      json={**_answers(spec), "applicant_division": "150626100202"})
    assert own.status_code == 201
    own_id = own.get_json()["id"]
    numbers = [r["number"] for r in client.get("/api/cases?limit=1000", headers=bearer(grid)).get_json()]
    assert own.get_json()["number"] in numbers and filed.get_json()["number"] not in numbers
    steps = {s["code"] for s in client.get(f"/api/cases/{own_id}/steps", headers=bearer(grid)).get_json()["steps"]}
    assert "decline" not in steps and "accept" in steps
    with demo_app.app_context():
        events = CaseEvent.select().count()
    refused = client.post(f"/api/cases/{own_id}/steps/decline", json={"reason": "不符合"}, headers=bearer(grid))
    assert refused.status_code == 403 and refused.get_json()["error"]
    with demo_app.app_context():
        assert CaseEvent.select().count() == events and Case.get_by_id(own_id).state == "applied"
    # the township agent may
    assert client.post(f"/api/cases/{own_id}/steps/decline", json={"reason": "不符合"},
                       headers=bearer(agent)).get_json()["state"] == "declined"


def test_cookie_requests_still_need_csrf_and_bearer_requests_do_not(demo_app):
    client = demo_app.test_client()
    assert sign_in(client, "galutu.agent").status_code == 302
    spec = client.get(f"/api/items/{SCAN_ITEM}/form").get_json()
    with demo_app.app_context():
        before = Case.select().count()
    refused = client.post(f"/api/items/{SCAN_ITEM}/cases", json=_answers(spec))
    assert refused.status_code == 400 and "error" in refused.get_json()
    with demo_app.app_context():
        assert Case.select().count() == before
    token = csrf_token(client, "/account")
    accepted = client.post(f"/api/items/{SCAN_ITEM}/cases", json=_answers(spec), headers={"X-CSRFToken": token})
    assert accepted.status_code == 201
    _admin, agent = issue_in_back_office(demo_app, "galutu.agent")
    bare = demo_app.test_client()
    assert bare.post(f"/api/items/{SCAN_ITEM}/cases", json=_answers(spec), headers=bearer(agent)).status_code == 201
    with demo_app.app_context():
        assert Case.select().count() == before + 2


def test_every_api_route_is_in_the_document_and_the_docs_page_lists_it(demo_app):
    client = demo_app.test_client()
    document = client.get("/api/openapi.json").get_json()
    documented = {(m.upper(), p) for p, item in document["paths"].items() for m in item}
    served = set()
    for rule in demo_app.url_map.iter_rules():
        if rule.rule.startswith("/api/") and rule.rule != "/api/docs":
            path = re.sub(r"<(?:[a-z]+:)?([a-z_]+)>", r"{\1}", rule.rule)
            served |= {(m, path) for m in rule.methods - {"HEAD", "OPTIONS"}}
    assert served == documented
    page = client.get("/api/docs").get_data(as_text=True)
    for op_id in _operations(document):
        assert f'id="{op_id}"' in page


def test_schemathesis_finds_no_server_error_and_no_answer_outside_the_document(demo_app):
    import schemathesis
    from hypothesis import HealthCheck, given, settings
    from schemathesis.checks import not_a_server_error
    from schemathesis.specs.openapi.checks import (content_type_conformance, response_headers_conformance,
                                                   response_schema_conformance, status_code_conformance)

    _admin, token = issue_in_back_office(demo_app, "galutu.agent")
    schema = schemathesis.openapi.from_wsgi("/api/openapi.json", demo_app)  # through the Flask app itself
    document = demo_app.test_client().get("/api/openapi.json").get_json()
    checks = [not_a_server_error, status_code_conformance, content_type_conformance, response_headers_conformance,
              response_schema_conformance]
    failures, calls = [], []
    for result in schema.get_all_operations():
        operation = result.ok()

        @given(case=operation.as_strategy())
        @settings(max_examples=30, deadline=None, suppress_health_check=list(HealthCheck), database=None)
        def run(case):
            calls.append(operation.label)
            try:
                case.call_and_validate(headers={"Authorization": f"Bearer {token}"}, checks=checks)
            except Exception as exc:  # collected: one report for every operation
                failures.append((operation.label, str(exc)[:800]))

        run()
    assert failures == []
    assert sorted(set(calls)) == sorted(f"{m} {p}" for m, p in _operations(document).values()
                                        if p != "/api/openapi.json")
    assert len(calls) > 150
