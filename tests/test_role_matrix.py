"""The role matrix, derived from the roles metadata itself.

For every role of ``metadata/core/roles.yaml`` × every route of the app and
every workflow transition: a role whose metadata grants what the route or
transition needs succeeds; any other is refused (403, or 404 where the
record lies outside what it may read) and nothing is written. ROUTES below
is the specification of what each route needs, written independently of
the code; a route the app serves that is missing here fails the test, so a
feature that adds a route adds it to this matrix.
"""
from __future__ import annotations

import datetime
import re
from pathlib import Path

import pytest
import yaml

from core.auth import User
from core.cases import service
from core.cases.demo import _form
from core.cases.models import Case, CaseEvent, Commission
from core.models import AuditEntry, MetadataRecord, Staff
from core.ratings.models import Rectification
from tests.helpers import sign_in

ROOT = Path(__file__).parent.parent
ROLES = {r["code"]: r for r in yaml.safe_load((ROOT / "metadata/core/roles.yaml").read_text("utf-8"))["roles"]}
FLOW = yaml.safe_load((ROOT / "metadata/core/workflows.yaml").read_text("utf-8"))["workflows"][0]
ACTOR = {"grassroots_agent": "galutu.agent", "project_specialist": "galutu.specialist",
         "department_helper": "rsj.helper", "stage_tracker": "county.tracker", "supervisor": "county.supervisor",
         "grid_agent": "taoli.grid", "county_admin": "county.admin", "system_admin": "sys.admin",
         "security_admin": "sec.admin", "audit_admin": "audit.admin"}
VILLAGE = "150626100201"


def grants(role, permission):
    return permission in ROLES[role].get("permissions", [])


def administrator(role):
    return bool(ROLES[role].get("administrator"))


# What each route needs. ``perm``: a permission (a tuple: any of them);
# ``admin``: the back office, for administrators only; ``case``: the route
# reads one case (a role without case.read is answered 404); ``open``: no
# permission (public, or any signed-in person's own account).
CASE = "case"
ROUTES = {
    "web.home": "open", "web.plugins": "open", "web.guides": "open", "web.guide": "open",
    "bank_partnership.index": "open", "track.track": "open", "track.by_token": "open",
    "auth.sign_in": "open", "auth.second_factor": "open", "auth.sign_out": "open", "auth.account": "open",
    "auth.account_language": "open",
    "ops.health": "open",  # for a monitor: no sign-in, no personal data (tests/test_ops.py)
    "cases.list_cases": ("case.read",),
    "cases.pick_item": ("case.create",), "cases.api_items": ("case.create",),
    "cases.api_item_form": ("case.create",), "cases.new_case": ("case.create",),
    "cases.detail": CASE, "cases.receipt": CASE, "cases.notice": CASE, "cases.commission": CASE,
    "cases.case_file": CASE,
    "cases.take": "transition",  # every transition, below
    "cases.complete_part": (CASE, "case.handle"), "cases.supply": (CASE, "case.accept"),
    "cases.supervise": (CASE, "case.remind"),  # the urge action; extend/reassign below
    "cases.handover": ("case.handover",),
    "ledger.api_cases": ("ledger.read",), "ledger.api_count": ("ledger.read",), "ledger.api_case": ("ledger.read",),
    "ledger.export_csv": ("ledger.read",), "ledger.export_xlsx": ("ledger.read",),
    "kpi.county": ("report.read",), "kpi.township": ("report.read",), "kpi.site": ("report.read",),
    "kpi.print_view": ("report.read",),
    "admin.index": ("admin",),
    "rate.rate": "open",  # the citizen rates by the case's tracking token
    "ratings.paper": (CASE, "rating.record"),
    "ratings.index": ("rating.read",), "ratings.invitations": ("rating.read",), "ratings.ledger": ("rating.read",),
    "ratings.rectification": (CASE, "rating.read"),
    "ratings.verify": (CASE, "rectification.manage"), "ratings.rectify": (CASE, "rectification.manage"),
    "ratings.callback": (CASE, "rectification.manage"),
    "ratings.decide_appeal": (CASE, "rectification.appeal_decide"),
    "ratings.export_json": ("rating.export",), "ratings.export_xlsx": ("rating.export",),
    "ratings.ledger_xlsx": ("rating.export",),
    "accounts.compliance": ("compliance.read",), "accounts.compliance_export": ("compliance.read",),
    "accounts.compliance_site": ("compliance.read",), "accounts.compliance_file": ("compliance.read",),
    "accounts.compliance_start": ("compliance.assess",), "accounts.compliance_answer": ("compliance.assess",),
    "accounts.compliance_submit": ("compliance.assess",), "accounts.compliance_review": ("compliance.review",),
    "accounts.staffing": ("staffing.read",), "accounts.staffing_export": ("staffing.read",),
    "accounts.assessment": ("assessment.read",), "accounts.assessment_export": ("assessment.read",),
    "accounts.assessment_person": ("assessment.read",), "accounts.assessment_note": ("assessment.note",),
    "accounts.worklog": ("worklog.read",), "accounts.worklog_export": ("worklog.read",),
    "accounts.worklog_write": ("worklog.write",),
    # the public hall (no account) and the staff work list
    "hall.directory": "open", "hall.site_page": "open", "hall.book": "open", "hall.appointment": "open",
    "hall.home_visit": "open", "hall.staff_photo": "open",
    # the workbench: any block opens it (cases, appointments, home visits, bad ratings, online requests)
    "work.work_list": ("case.read", "appointment.manage", "home_visit.handle", "rating.read",
                       "online_request.handle"),
    "work.appointment_action": ("appointment.manage",), "work.home_visit_action": ("home_visit.handle",),
    "api.me": "open", "api.openapi": "open", "api.docs": "open",
    "api.file_case": ("case.create",), "api.case_steps": CASE,
    "api.take_step": "transition",  # every transition, through the API too (tests/test_api.py)
    "online.apply": "open", "online.list_requests": ("online_request.handle",),
    "online.called": ("online_request.handle",), "online.file_case": ("online_request.handle",),
    "translations.index": ("translation.review",), "translations.correct": ("translation.review",),
}
ADMIN_VIEWS = {  # Flask-Admin endpoint (blueprint) -> permissions, any of which opens it
    "meta_items": ("catalog.manage",), "meta_departments": ("catalog.manage",),
    "meta_guide_fields": ("catalog.manage",), "meta_workflows": ("catalog.manage",),
    "catalog_io": ("catalog.manage",), "meta_regions": ("site.manage",), "meta_sites": ("site.manage",),
    "meta_site_standards": ("site.manage",), "meta_rulesets": ("ruleset.manage",),
    "meta_roles": ("permission.manage",), "staff_admin": ("staff.manage", "account.manage", "permission.manage"),
    "holiday_admin": ("calendar.manage",), "meta_special_groups": ("ruleset.manage",), "audit_admin": ("audit.read",), "plugin_settings": ("settings.manage",),
    "api_tokens": ("api_token.manage",), "outbox_admin": ("outbox.manage",),
}


def _counts():
    return (Case.select().count(), CaseEvent.select().count(), Commission.select().count(),
            Staff.select().count(), MetadataRecord.select().count(),
            AuditEntry.select().where(AuditEntry.action != "access.refused").count())


def _token(client):
    html = client.get("/account").get_data(as_text=True)
    return re.search(r'name="csrf_token" value="([^"]+)"', html).group(1)


@pytest.fixture
def world(demo_app):
    clients = {}
    for role, username in ACTOR.items():
        client = demo_app.test_client()
        assert sign_in(client, username).status_code == 302, username
        clients[role] = client
    with demo_app.app_context():
        promised = MetadataRecord.select().where((MetadataRecord.kind == "items") & MetadataRecord.current).order_by(
            MetadataRecord.key)
        items = {}
        for record in promised:
            items.setdefault(record.content["kind"], record)
        helper = Staff.get(Staff.username == "rsj.helper")
    return demo_app, clients, items, helper


def _case(app, items, helper, state="accepted", kind="promised", **extra):
    """A case in ``state`` that every case-reading demo actor has in scope
    (their village, township, county and department rsj)."""
    with app.app_context():
        agent = User(Staff.get(Staff.username == "galutu.agent"))
        case = service.create_case(items[kind], _form(Case.select().count() + 1, VILLAGE), agent)
        fields = dict(state=state, department="rsj", assignee=helper.id, accepted_on=service.today(),
                      due_day=service.today() + datetime.timedelta(days=5))
        fields.update(extra)
        Case.update(**fields).where(Case.id == case.id).execute()
        return case.id


def _noticed_case(app, items, helper):
    """A case with a one-time notice (so its notice page exists)."""
    case_id = _case(app, items, helper, state="applied")
    with app.app_context():
        service.take(Case.get_by_id(case_id), "one_time_notice", User(Staff.get(Staff.username == "galutu.agent")),
                     {"missing_materials": ["户口簿"]})
    return case_id


def _rectification(case_id):
    """A 差评 on the case, so its handling page exists for everyone who reads the case."""
    from core.ratings import service as ratings

    rating = ratings.record(Case.get_by_id(case_id), "acceptance", 1, channel="qr")
    return Rectification.get(Rectification.rating == rating.id).id


def _url_for_every_rule(app, case_id, rectification_id=1):
    """Each rule of the URL map with its arguments filled."""
    args = {"case_id": case_id, "code": "x", "kind": "one_time", "number": "x", "key": "x", "export_type": "csv",
            "job": "x", "filename": "x", "sha256": "0" * 64, "token": "x", "rectification_id": rectification_id,
            "assessment_id": 1, "staff_id": 1, "appointment_id": 1, "visit_id": 1, "token_id": 1, "message_id": 1,
            "request_id": 1, "county": "150626"}
    out = []
    for rule in app.url_map.iter_rules():
        if rule.endpoint.endswith("static"):
            continue
        path = rule.rule
        for name in rule.arguments:
            path = re.sub(rf"<(?:[a-z]+:)?{name}>", str(args[name]), path)
        out.append((rule.endpoint, path, sorted(rule.methods - {"HEAD", "OPTIONS"})))
    return out


#: a POST to a case page is the audited reveal of personal data
REVEAL = {"cases.detail", "cases.notice", "cases.commission"}


def _spec(endpoint, method="GET"):
    if endpoint in REVEAL and method == "POST":
        return (CASE, "personal_data.reveal")
    if endpoint in ROUTES:
        return ROUTES[endpoint]
    view = endpoint.split(".")[0]
    assert view in ADMIN_VIEWS, f"route {endpoint} is not in the role matrix: add what it needs to ROUTES"
    return ("admin", *ADMIN_VIEWS[view])


def _allowed(role, spec):
    if spec == "open":
        return True
    if spec == CASE:
        return grants(role, "case.read")
    needs = [p for p in spec if p != CASE]
    if needs and needs[0] == "admin":
        return administrator(role) and (len(needs) == 1 or any(grants(role, p) for p in needs[1:]))
    return (CASE not in spec or grants(role, "case.read")) and any(grants(role, p) for p in needs)


def _refusal(role, spec):
    """404 when the route reads a case the role cannot read, else 403."""
    return 404 if (spec == CASE or CASE in spec) and not grants(role, "case.read") else 403


def test_every_route_is_in_the_matrix_and_refuses_every_role_without_its_permission(world):
    app, clients, items, helper = world
    case_id = _noticed_case(app, items, helper)
    checked = 0
    with app.app_context():
        before_rects = [(r.id, r.state) for r in Rectification.select().order_by(Rectification.id)]
    tokens = {role: _token(client) for role, client in clients.items()}
    for endpoint, path, methods in _url_for_every_rule(app, case_id):
        for role, client in clients.items():
            token = tokens[role]
            for method in methods:
                spec = _spec(endpoint, method)
                if spec in ("open", "transition") or _allowed(role, spec):
                    continue
                with app.app_context():
                    before = _counts()
                response = client.open(path, method=method, data={"csrf_token": token, "action": "urge",
                                                                  "reason": "催办"} if method == "POST" else None)
                assert response.status_code == _refusal(role, spec), (role, method, path, response.status_code)
                with app.app_context():
                    assert _counts() == before, (role, method, path)
                checked += 1
    assert checked > 300
    with app.app_context():  # no refused step moved a 差评's handling
        assert [(r.id, r.state) for r in Rectification.select().order_by(Rectification.id)] == before_rects


def test_every_role_with_the_permission_gets_the_page(world):
    app, clients, items, helper = world
    case_id = _noticed_case(app, items, helper)
    with app.app_context():
        code = Case.get_by_id(case_id).item_code
        Case.update(accepted_on=service.today()).where(Case.id == case_id).execute()
        rectification_id = _rectification(case_id)
    pages = {"cases.list_cases": "/cases", "cases.pick_item": "/cases/new", "cases.api_items": "/api/items",
             "cases.api_item_form": f"/api/items/{code}/form", "cases.new_case": f"/cases/new/{code}",
             "cases.detail": f"/cases/{case_id}", "cases.receipt": f"/cases/{case_id}/receipt",
             "cases.notice": f"/cases/{case_id}/notice/one_time", "cases.commission": f"/cases/{case_id}/commission",
             "cases.handover": "/handover", "ledger.api_cases": "/api/cases", "ledger.api_count": "/api/cases/count",
             "ledger.api_case": f"/api/cases/{case_id}", "ledger.export_csv": "/cases/export.csv",
             "ledger.export_xlsx": "/cases/export.xlsx", "admin.index": "/admin/",
             "ratings.paper": f"/cases/{case_id}/rating", "ratings.index": "/ratings",
             "ratings.invitations": "/ratings/invitations", "ratings.ledger": "/ratings/ledger",
             "ratings.rectification": f"/ratings/rectifications/{rectification_id}",
             "ratings.export_json": "/ratings/export.json", "ratings.export_xlsx": "/ratings/export.xlsx",
             "ratings.ledger_xlsx": "/ratings/ledger.xlsx",
             "kpi.county": "/reports/kpi", "kpi.township": "/reports/kpi/township/150626100",
             "kpi.site": "/reports/kpi/site/center-150626100", "kpi.print_view": "/reports/kpi/print",
             "accounts.compliance": "/compliance", "accounts.compliance_export": "/compliance/export.xlsx",
             # a station every role granted compliance.read has in its area (the grid agent's village)
             "accounts.compliance_site": "/compliance/sites/station-150626100201",
             "accounts.staffing": "/staffing", "accounts.staffing_export": "/staffing/export.xlsx",
             "accounts.assessment": "/assessment", "accounts.assessment_export": "/assessment/export.xlsx",
             "accounts.assessment_person": f"/assessment/{helper.id}",
             "accounts.worklog": "/worklog", "accounts.worklog_export": "/worklog/export.xlsx",
             "work.work_list": "/work",
             "api.case_steps": f"/api/cases/{case_id}/steps", "online.list_requests": "/requests"}
    pages.update({f"{view}.index": f"/admin/{view}/" for view in ADMIN_VIEWS})
    urls = {rule.endpoint.split(".")[0]: rule.rule for rule in app.url_map.iter_rules()
            if rule.endpoint.endswith((".index_view", ".index")) and rule.endpoint.split(".")[0] in ADMIN_VIEWS}
    served = 0
    for endpoint, path in pages.items():
        view = endpoint.split(".")[0]
        spec = ROUTES.get(endpoint) or ("admin", *ADMIN_VIEWS[view])
        path = urls.get(view, path) if view in ADMIN_VIEWS else path
        for role, client in clients.items():
            if _allowed(role, spec):
                response = client.get(path)
                assert response.status_code == 200, (role, path, response.status_code)
                served += 1
    assert served > 60


def _form_inputs(transition, case_kind, joint):
    today = datetime.date.today()
    values = {"reason": "理由", "note": "说明", "missing": ["居民户口簿"], "missing_material": "复印件",
              "promise_due": (today + datetime.timedelta(days=3)).isoformat(), "department": "rsj",
              "rating": "4", "joint": joint}
    data = {}
    for need in transition.get("requires", []):
        if need == "missing_materials":
            data["missing"] = values["missing"]
        elif need == "delivery":
            data.update(delivery_method="mail", received_by="本人", tracking="SF1")
        else:
            data[need] = values[need]
    return data


def test_every_transition_follows_the_roles_metadata(world):
    app, clients, items, helper = world
    for transition in FLOW["transitions"]:
        _try_transition(app, clients, items, helper, transition)


def _try_transition(app, clients, items, helper, transition):
    kind = (transition.get("kinds") or ["promised"])[0]
    state = transition["from"][0]
    for role, client in clients.items():
        extra = {"pauses": [[datetime.date.today().isoformat(), None]]} if state == "suspended" else {}
        case_id = _case(app, items, helper, state=state, kind=kind, **extra)
        with app.app_context():
            record = Case.get_by_id(case_id).item_record.content
            before = _counts()
        joint = [record["department"], *record.get("joint_departments", [])][:2]
        data = {"csrf_token": _token(client), **_form_inputs(transition, kind, joint)}
        response = client.post(f"/cases/{case_id}/take/{transition['code']}", data=data)
        allowed = grants(role, transition["permission"]) and grants(role, "case.read") and (
            not transition.get("assignee_only") or ACTOR[role] == "rsj.helper")
        with app.app_context():
            case = Case.get_by_id(case_id)
            if allowed:
                assert response.status_code == 302, (role, transition["code"])
                assert case.state == transition["to"], (role, transition["code"], case.state)
                assert CaseEvent.select().where((CaseEvent.case == case_id)
                                                & (CaseEvent.action == transition["code"])).count() == 1
            else:
                assert response.status_code == (403 if grants(role, "case.read") else 404), (role, transition["code"])
                assert case.state == state
                assert _counts() == before, (role, transition["code"])


def test_supervision_actions_follow_the_roles_metadata(world):
    app, clients, items, helper = world
    for action, permission in [("extend", "case.extend"), ("reassign_owner", "case.reassign")]:
        _try_supervision(app, clients, items, helper, action, permission)


def _try_supervision(app, clients, items, helper, action, permission):
    with app.app_context():
        successor = Staff.get(Staff.username == "galutu.agent2").id
    for role, client in clients.items():
        case_id = _case(app, items, helper)
        with app.app_context():
            before = _counts()
        response = client.post(f"/cases/{case_id}/supervise", data={
            "csrf_token": _token(client), "action": action, "days": "1", "staff": str(successor), "reason": "需要"})
        with app.app_context():
            written = CaseEvent.select().where((CaseEvent.case == case_id) & CaseEvent.action.startswith(
                action.split("_")[0])).count()
            if grants(role, permission) and grants(role, "case.read"):
                assert (response.status_code, written) == (302, 1), role
            else:
                assert response.status_code == (403 if grants(role, "case.read") else 404), role
                assert _counts() == before, role


def test_revealing_personal_data_follows_the_roles_metadata(world):
    app, clients, items, helper = world
    case_id = _case(app, items, helper)
    with app.app_context():
        full = Case.get_by_id(case_id).id_number()
    for role, client in clients.items():
        response = client.post(f"/cases/{case_id}/commission", data={"csrf_token": _token(client)})
        if grants(role, "personal_data.reveal") and grants(role, "case.read"):
            assert response.status_code == 200 and full in response.get_data(as_text=True), role
        else:
            assert response.status_code == (403 if grants(role, "case.read") else 404), role
