"""Cases with personal numbers in their free text, filed and moved through
real HTTP requests (shared by the personal-data tests)."""
import io
import re

from core.cases.demo import id_number
from core.cases.models import Case
from core.metadata import store
from core.models import MetadataRecord
from tests.helpers import csrf_token, sign_in

ITEM = "150626-ybj-003"  # 异地就医备案: instant, village and township, text fields of its own
VILLAGE = "150626100201"
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64

TEXT_ID = id_number("150626", "19700101", 77)  # typed into a text field of the item's form
REASON_ID = id_number("150626", "19880808", 78)  # in the decline reason
URGE_ID = id_number("150626", "19661212", 79)  # in the supervisor's urge note
TEXT_PHONE, REASON_PHONE, URGE_PHONE, FILE_PHONE = "13912345678", "13987654321", "13766554433", "13811112222"
SECRETS = [TEXT_ID, REASON_ID, URGE_ID, TEXT_PHONE, REASON_PHONE, URGE_PHONE, FILE_PHONE]


def masked_id(value):
    return value[:3] + "*" * 11 + value[-4:]


def masked_phone(value):
    return value[:3] + "****" + value[-4:]


def client_for(app, username):
    client = app.test_client()
    assert sign_in(client, username).status_code == 302
    return client


def add_scan_field(app):
    """The item gets a (non-required) scan upload field."""
    with app.app_context():
        record = MetadataRecord.get((MetadataRecord.key == ITEM) & MetadataRecord.current)
        content = dict(record.content)
        content["fields"] = [*content.get("fields", []), {"name": "scan", "type": "file", "label": "身份证扫描件"}]
        store.save_entries([("items", content, record.pack)], actor="test", role="county_admin")


def file_case(client, **extra):
    """File an ITEM case as the signed-in agent; return it."""
    data = {"csrf_token": csrf_token(client, f"/cases/new/{ITEM}"), "applicant_name": "巴图",
            "applicant_id_number": id_number("150626", "19851120", 51), "applicant_phone": "13847700051",
            "applicant_division": VILLAGE, "principal_is_applicant": "true", "filing_type": "temporary",
            "destination": f"北京市，联系人身份证{TEXT_ID}，电话{TEXT_PHONE}", "start_date": "2026-12-01",
            "material_1": "true", "material_2": "true", **extra}
    response = client.post(f"/cases/new/{ITEM}", data=data, content_type="multipart/form-data")
    assert response.status_code == 302, response.get_data(as_text=True)[:3000]
    case_id = int(re.search(r"/cases/(\d+)/receipt", response.headers["Location"]).group(1))
    with client.application.app_context():
        return Case.get_by_id(case_id)


def scan():
    return (io.BytesIO(PNG), f"{FILE_PHONE}扫描.png")


def urge(app, case):
    supervisor = client_for(app, "county.supervisor")
    token = csrf_token(supervisor, f"/cases/{case.id}")
    response = supervisor.post(f"/cases/{case.id}/supervise", data={
        "csrf_token": token, "action": "urge", "reason": f"请联系{URGE_PHONE}核实{URGE_ID}"})
    assert response.status_code == 302


def decline(app, case):
    agent = client_for(app, "galutu.agent")  # the village lies in its township
    token = csrf_token(agent, f"/cases/{case.id}")
    response = agent.post(f"/cases/{case.id}/take/decline", data={
        "csrf_token": token, "reason": f"申请人电话{REASON_PHONE}，身份证{REASON_ID}，不符合条件"})
    assert response.status_code == 302 and response.headers["Location"].endswith(f"/cases/{case.id}/notice/decline")


def filed_urged_declined(app):
    """The whole story of the trust issue: PII in a text field and a scan's
    name, an urge note and a decline reason with ID numbers and phones."""
    add_scan_field(app)
    case = file_case(client_for(app, "taoli.grid"), scan=scan())
    urge(app, case)
    decline(app, case)
    return case
