"""政银合作 as one plugin (plugins/bank_partnership): switched off, the core
keeps working without it; loaded, its role ``partner_staff`` files only the
items delegated to banks and sees only its own cases. Real HTTP requests,
SQLite and PostgreSQL."""
import re

import pytest

from core import catalog
from core.accounts import AccountError, create_account
from core.cases.demo import id_number
from core.cases.models import Case
from core.cli import load_catalog
from core.metadata import store
from core.plugins import collect, make_manager
from tests.helpers import sign_in

BANK_ITEM = "150626-rsj-017"  # channels: [window, bank], township, instant
WINDOW_ITEM = "150626-rsj-014"  # channels: [window, online, mobile], township, instant
TOWNSHIP, VILLAGE = "150626100", "150626100201"


def test_without_the_plugin_the_core_works_and_nothing_of_banks_is_left(make_app):
    app = make_app(plugins="wushen")
    pm = app.extensions["bangban"].pm
    records = load_catalog(pm)  # the metadata checks
    with app.app_context():
        store.sync(records)
        assert catalog.current("roles", "grassroots_agent", county="150626") is not None
        assert catalog.current("roles", "partner_staff", county="150626") is None
        assert catalog.current("site_standards", "bank_point", county="150626") is None
        with pytest.raises(AccountError):
            create_account("150626", "bank.teller", "银行柜员", "partner_staff", region=TOWNSHIP)
    assert not [e for _p, args, _kw in collect(pm, "register_intake_channels") for e in args if e == "bank"]
    client = app.test_client()
    assert client.get("/bank/").status_code == 404
    home = client.get("/?lang=zh_Hans_CN")
    assert home.status_code == 200
    assert "政银合作" not in home.get_data(as_text=True)
    assert client.get("/guides").status_code == 200


def test_the_plugin_brings_its_channel_site_kind_standard_role_and_page(make_app):
    pm = make_manager(allow="wushen,bank_partnership")
    channels = {args[0]: kw for name, args, kw in collect(pm, "register_intake_channels") if name == "bank_partnership"}
    assert channels["bank"]["site_kinds"] == ("bank_branch",) and channels["bank"]["roles"] == ("partner_staff",)
    kinds = {args[0]: kw for name, args, kw in collect(pm, "register_site_kinds") if name == "bank_partnership"}
    assert kinds["bank_branch"]["level"] == "partner"
    records = load_catalog(pm)
    app = make_app(plugins="wushen,bank_partnership")
    with app.app_context():
        store.sync(records)
        role = catalog.current("roles", "partner_staff", county="150626").content
        standard = catalog.current("site_standards", "bank_point", county="150626").content
    assert role["scope"] == "own" and sorted(role["permissions"]) == ["case.create", "case.read"]
    assert standard["applies_to"] == "bank_branch"
    page = app.test_client().get("/bank/?lang=zh_Hans_CN")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert "<h1>政银合作</h1>" in html and "合作银行网点" in html  # the plugin's own catalog
    assert "/-/static-plugins/bank_partnership/bank.css" in html


def _teller(app):
    """A partner bank's counter clerk of 嘎鲁图镇, created as an administrator would."""
    from core.models import Staff, utcnow
    from core.passwords import hash_password

    with app.app_context():
        create_account("150626", "bank.teller", "银行柜员", "partner_staff", region=TOWNSHIP)
        Staff.update(password_hash=hash_password("Bangban@2026"), password_changed_at=utcnow()).where(
            Staff.username == "bank.teller").execute()
    client = app.test_client()
    assert sign_in(client, "bank.teller").status_code == 302
    return client


def _form(client, code):
    html = client.get(f"/cases/new/{code}").get_data(as_text=True)
    data = {"csrf_token": re.search(r'name="csrf_token" value="([^"]+)"', html).group(1),
            "applicant_name": "巴图", "applicant_id_number": id_number("150626", "19851120", 31),
            "applicant_phone": "13847700031", "applicant_division": VILLAGE, "principal_is_applicant": "true"}
    for section in client.get(f"/api/items/{code}/form").get_json()["sections"]:
        for field in section["fields"]:
            if field["name"] not in data and field.get("required"):
                data[field["name"]] = "on" if field["type"] == "material" else "1"
    return data


def test_partner_staff_files_only_bank_items_and_sees_only_their_cases(demo_app):
    teller = _teller(demo_app)
    with demo_app.app_context():
        before = Case.select().count()
        others = [c.id for c in Case.select()]
    assert others, "the demo has cases of other staff"
    # an item not delegated to banks: neither its form nor its submission
    assert teller.get(f"/cases/new/{WINDOW_ITEM}").status_code == 403
    assert teller.get(f"/api/items/{WINDOW_ITEM}/form").status_code == 403
    agent = demo_app.test_client()
    assert sign_in(agent, "galutu.agent").status_code == 302
    window_form = _form(agent, WINDOW_ITEM)  # the township's own agent may file it
    assert agent.get(f"/cases/new/{WINDOW_ITEM}").status_code == 200
    window_form["csrf_token"] = re.search(r'name="csrf_token" value="([^"]+)"',
                                          teller.get(f"/cases/new/{BANK_ITEM}").get_data(as_text=True)).group(1)
    assert teller.post(f"/cases/new/{WINDOW_ITEM}", data=window_form).status_code == 403
    with demo_app.app_context():
        assert Case.select().count() == before
    # an item delegated to banks
    response = teller.post(f"/cases/new/{BANK_ITEM}", data=_form(teller, BANK_ITEM))
    assert response.status_code == 302, response.get_data(as_text=True)[:2000]
    own = int(re.search(r"/cases/(\d+)/receipt", response.headers["Location"]).group(1))
    with demo_app.app_context():
        case = Case.get_by_id(own)
        assert case.item_code == BANK_ITEM and case.owner.username == "bank.teller"
        number = case.number
    # only their own case, in the list and case by case
    listing = teller.get("/cases").get_data(as_text=True)
    assert re.findall(r'href="/cases/(\d+)"', listing) == [str(own)]
    assert number in listing
    assert teller.get(f"/cases/{own}").status_code == 200
    for other in others[:5]:
        assert teller.get(f"/cases/{other}").status_code == 404


def _bank_items_of_the_pack(level):
    """The 乌审旗 items a bank branch may take, read from the pack's YAML:
    those listing the ``bank`` channel at the level."""
    import yaml
    from pathlib import Path

    found = set()
    for path in (Path(__file__).parent.parent / "metadata" / "wushen").glob("items_*.yaml"):
        for item in yaml.safe_load(path.read_text("utf-8")).get("items", []):
            if "bank" in item.get("channels", []) and level in item.get("levels", []):
                found.add(item["code"])
    return found


def test_the_clerks_picker_lists_only_delegated_items_and_the_clerk_cannot_move_a_case(demo_app):
    teller = _teller(demo_app)
    expected = _bank_items_of_the_pack("township")
    assert BANK_ITEM in expected and WINDOW_ITEM not in expected
    listed = {i["code"] for i in teller.get("/api/items?limit=50").get_json()}
    assert len(expected) < 50 and listed == expected  # /api/items answers at most 50
    picker = teller.get("/cases/new?limit=50").get_data(as_text=True)
    assert f'href="/cases/new/{BANK_ITEM}"' in picker and f'href="/cases/new/{WINDOW_ITEM}"' not in picker
    assert set(re.findall(r'href="/cases/new/([^"?]+)"', picker)) == expected
    response = teller.post(f"/cases/new/{BANK_ITEM}", data=_form(teller, BANK_ITEM))
    assert response.status_code == 302
    own = int(re.search(r"/cases/(\d+)/receipt", response.headers["Location"]).group(1))
    token = re.search(r'name="csrf_token" value="([^"]+)"', teller.get(f"/cases/{own}").get_data(as_text=True)).group(1)
    with demo_app.app_context():
        before = (Case.get_by_id(own).state, Case.get_by_id(own).updated_at)
    # no request for more materials (one-time notice), no acceptance, no supply of materials
    for path in (f"/cases/{own}/take/one_time_notice", f"/cases/{own}/take/accept", f"/cases/{own}/supply"):
        assert teller.post(path, data={"csrf_token": token, "missing_materials": "户口簿", "note": "x"}).status_code == 403
    with demo_app.app_context():
        assert (Case.get_by_id(own).state, Case.get_by_id(own).updated_at) == before
    work = teller.get("/work")  # a workbench of cases only: no appointments (no appointment.manage)
    assert work.status_code == 200 and 'id="appointments"' not in work.get_data(as_text=True)
