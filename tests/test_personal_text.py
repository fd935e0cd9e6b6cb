"""ID numbers and phones typed into free text (form text fields, decline
reasons, urge notes, file names, number fields): masked on the case page,
the printed notice and the audit log; shown in full only through the
explicit, audited reveal action — on SQLite and PostgreSQL."""
import re

from core.cases.demo import id_number
from core.cases.models import Case
from core.models import AuditEntry
from tests.helpers import csrf_token
from tests.personal_helpers import (REASON_ID, REASON_PHONE, SECRETS, TEXT_ID, TEXT_PHONE, URGE_ID, URGE_PHONE,
                                    client_for, filed_urged_declined, masked_id, masked_phone)


def reveals(app):
    with app.app_context():
        return [(e.actor, e.entity, e.payload) for e in
                AuditEntry.select().where(AuditEntry.action == "personal_data.reveal").order_by(AuditEntry.seq)]


def test_a_role_without_reveal_sees_free_text_masked_and_cannot_reveal(demo_app):
    case = filed_urged_declined(demo_app)
    supervisor = client_for(demo_app, "county.supervisor")  # reads every case, no personal_data.reveal
    page = supervisor.get(f"/cases/{case.id}")
    html = page.get_data(as_text=True)
    assert page.status_code == 200 and [s for s in SECRETS if s in html] == []
    for shown in (masked_id(REASON_ID), masked_phone(REASON_PHONE), masked_id(URGE_ID), masked_phone(URGE_PHONE),
                  masked_id(TEXT_ID), masked_phone(TEXT_PHONE)):
        assert shown in html, shown
    assert "不符合条件" in html and 'id="reveal"' not in html
    notice = supervisor.get(f"/cases/{case.id}/notice/decline").get_data(as_text=True)
    reason = re.search(r'id="notice-reason">(.*?)</blockquote>', notice, re.S).group(1)
    assert reason == f"申请人电话{masked_phone(REASON_PHONE)}，身份证{masked_id(REASON_ID)}，不符合条件"
    token = csrf_token(supervisor, f"/cases/{case.id}")
    assert supervisor.post(f"/cases/{case.id}", data={"csrf_token": token}).status_code == 403
    assert supervisor.post(f"/cases/{case.id}/notice/decline", data={"csrf_token": token}).status_code == 403
    assert reveals(demo_app) == []


def test_full_free_text_only_through_the_audited_reveal_action(demo_app):
    case = filed_urged_declined(demo_app)
    agent = client_for(demo_app, "galutu.agent")  # may reveal
    html = agent.get(f"/cases/{case.id}").get_data(as_text=True)
    assert [s for s in SECRETS if s in html] == [] and 'id="reveal"' in html
    token = csrf_token(agent, f"/cases/{case.id}")
    revealed = agent.post(f"/cases/{case.id}", data={"csrf_token": token})
    html = revealed.get_data(as_text=True)
    assert revealed.status_code == 200 and revealed.headers["Cache-Control"] == "no-store"
    assert [s for s in (REASON_ID, REASON_PHONE, URGE_ID, URGE_PHONE, TEXT_ID, TEXT_PHONE) if s not in html] == []
    notice = agent.post(f"/cases/{case.id}/notice/decline", data={"csrf_token": token}).get_data(as_text=True)
    assert f"申请人电话{REASON_PHONE}，身份证{REASON_ID}，不符合条件" in notice
    assert REASON_ID not in agent.get(f"/cases/{case.id}/notice/decline").get_data(as_text=True)
    assert [(a, e) for a, e, _p in reveals(demo_app)] == [("galutu.agent", f"case:{case.number}")] * 2
    assert [p for _a, _e, p in reveals(demo_app)] == ['{"view": "detail"}', '{"view": "notice.decline"}']


def test_audit_log_keeps_free_text_as_tokens_and_shows_it_masked(demo_app):
    case = filed_urged_declined(demo_app)
    with demo_app.app_context():
        entries = {e.action: e for e in AuditEntry.select().where(AuditEntry.entity == f"case:{case.number}")}
        assert REASON_ID not in entries["case.decline"].payload and "⟦enc1:" in entries["case.decline"].payload
        verified = demo_app.extensions["bangban"].audit.verify()
        assert verified.ok, verified.message
    auditor = client_for(demo_app, "audit.admin")
    for action, full_id, phone in (("case.decline", REASON_ID, REASON_PHONE), ("case.urge", URGE_ID, URGE_PHONE)):
        response = auditor.get(f"/admin/audit_admin/details/?id={entries[action].id}")
        html = response.get_data(as_text=True)
        assert response.status_code == 200 and action in html
        assert full_id not in html and phone not in html
        assert masked_id(full_id) in html and masked_phone(phone) in html


def form_for(client, code, **values):
    """Every required field of item ``code`` filled, then ``values``."""
    spec = client.get(f"/api/items/{code}/form").get_json()
    data = {"csrf_token": csrf_token(client, f"/cases/new/{code}"), "applicant_name": "宝音",
            "applicant_id_number": id_number("150626", "19581230", 81), "applicant_phone": "13847700099",
            "applicant_division": "150626100201", "principal_is_applicant": "true"}
    for field in (f for s in spec["sections"] for f in s["fields"]):
        if field["name"] in data or not field["required"]:
            continue
        data[field["name"]] = {"choice": lambda: str(field["options"][0]["value"]),
                               "multi_choice": lambda: str(field["options"][0]["value"]),
                               "date": lambda: "2026-12-01", "material": lambda: "true", "yes_no": lambda: "true",
                               "integer": lambda: "3", "decimal": lambda: "1.5",
                               "id_number": lambda: id_number("150626", "19900101", 82)}.get(field["type"], lambda: "某某")()
    data.update(values)
    return data


def test_id_and_phone_typed_into_number_fields_are_encrypted_and_masked(demo_app):
    from core.forms import valid_id_number
    from tests.test_personal_data import database_bytes, database_rows

    code, phone, id_shaped = "150626-mzj-003", "13655556666", id_number("150626", "19920202", 80)
    assert valid_id_number(id_shaped) is None
    agent = client_for(demo_app, "galutu.agent")
    # an 18-digit number is beyond any sane amount: refused with a field error, nothing stored
    refused = agent.post(f"/cases/new/{code}", data=form_for(agent, code, household_size="3", annual_income=id_shaped))
    assert refused.status_code == 400 and 'id="f-annual_income-error"' in refused.get_data(as_text=True)
    assert id_shaped.encode() not in database_bytes(demo_app)
    response = agent.post(f"/cases/new/{code}", data=form_for(agent, code, household_size=phone,
                                                              annual_income="12000"))
    assert response.status_code == 302, response.get_data(as_text=True)[:3000]
    with demo_app.app_context():
        case = Case.select().order_by(Case.id.desc()).first()
        assert case.item_code == code
    raw, text = database_bytes(demo_app), database_rows(demo_app)
    assert [s for s in (phone, id_shaped) if s.encode() in raw or s in text] == []
    html = agent.get(f"/cases/{case.id}").get_data(as_text=True)
    assert phone not in html and id_shaped not in html
    assert masked_phone(phone) in html
