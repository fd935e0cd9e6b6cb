"""Upload limits: 413 for an oversized request, 400 for a file whose content
is not what it claims, and a good scan stored by its content hash."""
import io
import re

from core.cases.demo import id_number
from core.cases.models import Case
from core.metadata import store
from core.models import MetadataRecord
from tests.helpers import sign_in

PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64
ITEM = "150626-ybj-003"


def with_scan_field(app):
    with app.app_context():
        record = MetadataRecord.get((MetadataRecord.key == ITEM) & MetadataRecord.current)
        content = dict(record.content)
        content["fields"] = [*content.get("fields", []),
                             {"name": "scan", "type": "file", "label": "扫描件", "required": True}]
        store.save_entries([("items", content, record.pack)], actor="test", role="county_admin")


def form(client):
    html = client.get(f"/cases/new/{ITEM}").get_data(as_text=True)
    token = re.search(r'name="csrf_token" value="([^"]+)"', html).group(1)
    return {"csrf_token": token, "applicant_name": "巴图", "applicant_id_number": id_number("150626", "19851120", 51),
            "applicant_phone": "13847700051", "applicant_division": "150626100201", "principal_is_applicant": "true",
            "filing_type": "temporary", "destination": "北京市", "start_date": "2026-12-01", "material_1": "true",
            "material_2": "true"}


def test_oversized_request_is_413(demo_app):
    client = demo_app.test_client()
    sign_in(client, "taoli.grid")
    data = form(client)
    data["scan"] = (io.BytesIO(b"%PDF-1.4 " + b"x" * (21 * 1024 * 1024)), "big.pdf")
    response = client.post(f"/cases/new/{ITEM}", data=data, content_type="multipart/form-data")
    assert response.status_code == 413


def test_file_type_is_checked_by_content_not_name(demo_app):
    with_scan_field(demo_app)
    client = demo_app.test_client()
    sign_in(client, "taoli.grid")
    with demo_app.app_context():
        before = Case.select().count()
    data = form(client)
    data["scan"] = (io.BytesIO(b"MZ\x90\x00 not a scan at all"), "scan.pdf")
    response = client.post(f"/cases/new/{ITEM}", data=data, content_type="multipart/form-data")
    assert response.status_code == 400
    assert 'id="f-scan-error"' in response.get_data(as_text=True)
    data = form(client)
    data["scan"] = (io.BytesIO(PNG), "renamed.pdf")  # a PNG under a PDF name is still accepted as a PNG
    response = client.post(f"/cases/new/{ITEM}", data=data, content_type="multipart/form-data")
    assert response.status_code == 302
    with demo_app.app_context():
        assert Case.select().count() == before + 1
        case = Case.select().order_by(Case.id.desc()).first()
        assert case.data["scan"]["type"] == "png" and len(case.data["scan"]["sha256"]) == 64
