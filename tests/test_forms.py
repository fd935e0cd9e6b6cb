"""Commission forms: validators, expressions, spec, schema, search, macros."""
from __future__ import annotations

import io
import json
import re
from datetime import date, timedelta
from decimal import Decimal

import pytest
import yaml
from hypothesis import given, settings, strategies as st
from werkzeug.datastructures import FileStorage, MultiDict

from core.forms import (ExpressionError, FormSpecError, build_form_spec, compile_expression, form_state,
                        schema_for, search_items, sniff_file_type, valid_id_number, valid_mobile,
                        validate_form as _validate_form)
from core.paths import METADATA

PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 32
JPEG = b"\xff\xd8\xff\xe0" + b"\x00" * 32
PDF = b"%PDF-1.7\n" + b"\x00" * 32


def with_check(first17: str) -> str:
    """Append the ISO 7064 MOD 11-2 check character (computed here, independently)."""
    weights = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2]
    return first17 + "10X98765432"[sum(int(d) * w for d, w in zip(first17, weights)) % 11]


def wrong_check(number: str) -> str:
    return number[:17] + ("0" if number[17] != "0" else "1")


@pytest.fixture(scope="module")
def items():
    return {i["code"]: i for i in yaml.safe_load((METADATA / "wushen/items_village.yaml").read_text("utf-8"))["items"]}


@pytest.fixture(scope="module")
def guide():
    sets = yaml.safe_load((METADATA / "core/guide_fields.yaml").read_text("utf-8"))["guide_fields"]
    return next(s for s in sets if s["code"] == "standard")


@pytest.fixture(scope="module")
def spec(items, guide):
    return build_form_spec(items["150626-ybj-003"], guide)


# --- ID numbers, mobiles, files -------------------------------------------------------------

VALID_ID = with_check("15062619800101001")


@pytest.mark.parametrize("number", [VALID_ID, "11010519491231002X", with_check("44052419800101001"),
                                    with_check("15062620000229123")])
def test_valid_id_numbers(number):
    assert valid_id_number(number) is None


def test_id_number_lowercase_x_is_accepted():
    first17 = next(p for p in (f"1506261990010100{i}" for i in range(10)) if with_check(p).endswith("X"))
    assert valid_id_number(with_check(first17).lower()) is None
    assert valid_id_number(" " + with_check(first17) + " ") is None


@pytest.mark.parametrize("number, reason", [
    (wrong_check(VALID_ID), "check_digit"),
    (VALID_ID[:-1], "length"),
    (VALID_ID + "1", "length"),
    ("", "length"),
    ("15062619800101001A", "format"),
    ("1506261980010100X1", "format"),
    ("１５０６２６１９８００１０１００１X", "format"),  # full-width digits
    (with_check("00000019800101001"), "format"),
    (with_check("15062619800231001"), "birth_date"),  # 31 February
    (with_check("15062620010229001"), "birth_date"),  # 2001 was no leap year
    (with_check("15062618991231001"), "birth_date"),
    (with_check("150626" + (date.today() + timedelta(days=1)).strftime("%Y%m%d") + "001"), "birth_date"),
    (None, "format"),
])
def test_invalid_id_numbers(number, reason):
    assert valid_id_number(number) == reason


@pytest.mark.parametrize("number, ok", [
    ("13800138000", True), ("19912345678", True), (" 15012345678 ", True),
    ("12800138000", False), ("1380013800", False), ("138001380001", False), ("1380013800a", False),
    ("+8613800138000", False), ("", False), (None, False), ("１３８００１３８０００", False),
])
def test_mobile(number, ok):
    assert valid_mobile(number) is ok


def test_sniffing_goes_by_content():
    assert sniff_file_type(PNG) == "png"
    assert sniff_file_type(JPEG) == "jpeg"
    assert sniff_file_type(PDF) == "pdf"
    assert sniff_file_type(b"GIF89a") is None
    assert sniff_file_type(b"") is None
    assert sniff_file_type(b"PK\x03\x04" + b"\x00" * 22 + (7).to_bytes(2, "little") + b"\x00\x00OFD.xml") == "ofd"
    assert sniff_file_type(b"PK\x03\x04" + b"\x00" * 22 + (8).to_bytes(2, "little") + b"\x00\x00word/doc") is None


# --- expressions -----------------------------------------------------------------------------

@pytest.mark.parametrize("text, values, expected", [
    ("principal_is_applicant == false", {"principal_is_applicant": False}, True),
    ("principal_is_applicant == false", {"principal_is_applicant": True}, False),
    ("principal_is_applicant == false", {}, False),
    ("principal_is_applicant == False", {"principal_is_applicant": False}, True),
    ('marital_status == "married"', {"marital_status": "married"}, True),
    ("marital_status == 'married'", {"marital_status": "single"}, False),
    ('age >= 60 and household_division != ""', {"age": 61, "household_division": "150626"}, True),
    ('age >= 60 and household_division != ""', {"age": 59, "household_division": "150626"}, False),
    ("age >= 60", {"age": None}, False),  # incompatible types: false, not an error
    ("age < 3", {"age": "two"}, False),
    ('"x" in services', {"services": ["x", "y"]}, True),
    ('"x" not in services', {"services": ["y"]}, True),
    ('"x" in services', {}, False),
    ('kind in ["a", "b"]', {"kind": "b"}, True),
    ("not (urgent or amount > 1000)", {"urgent": False, "amount": Decimal("20")}, True),
    ("-x < -3", {"x": 4}, True),
    ("0 < n <= 5", {"n": 5}, True),
    ("0 < n <= 5", {"n": 6}, False),
    ("spouse == null", {}, True),
    ("urgent", {"urgent": True}, True),
])
def test_expressions(text, values, expected):
    assert compile_expression(text).evaluate(values) is expected


def test_expression_names():
    assert compile_expression('a == 1 and (b != "x" or not c) and true').names == {"a", "b", "c"}


MALICIOUS = [
    "__import__('os').system('x')",
    "().__class__",
    "().__class__.__bases__[0].__subclasses__()",
    "open('f')",
    "[x for x in y]",
    "{x for x in y}",
    "(x for x in y)",
    "a.b",
    "a[0]",
    "lambda: 1",
    "(y := 1)",
    "f'{a}'",
    "__builtins__",
    "_secret == 1",
    "a + 1 > 2",
    "1 if a else 2",
    "{'a': 1}",
    "a is None",
    "b'bytes' == a",
    "~a",
    "[a, b]",
    "x = 1",
    "import os",
    "a == 1; b",
    "",
    "   ",
    "a" * 501,
    " or ".join(["a"] * 100),
    "(" * 300 + "a" + ")" * 300,
    "a\x00b",
]


@pytest.mark.parametrize("text", MALICIOUS)
def test_malicious_expressions_are_rejected(text):
    with pytest.raises(ExpressionError):
        compile_expression(text)


def test_expression_error_names_the_construct():
    with pytest.raises(ExpressionError, match="function call"):
        compile_expression("open('f')")
    with pytest.raises(ExpressionError, match="attribute"):
        compile_expression("a.b")
    with pytest.raises(ExpressionError, match="comprehension"):
        compile_expression("[x for x in y]")


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=80) | st.text(alphabet="ab01 =!<>()[]\"'.,:-_notandorinfalsetrue", max_size=60))
def test_random_text_compiles_or_raises_expression_error(text):
    try:
        expr = compile_expression(text)
    except ExpressionError:
        return
    assert isinstance(expr.evaluate({"a": 1, "b": "x"}), bool)


# --- spec ------------------------------------------------------------------------------------

def test_spec_from_a_real_item(spec, items):
    json.dumps(spec)  # serialisable
    assert spec["item"] == {"code": "150626-ybj-003", "name": "异地就医备案", "kind": "instant", "promised_days": 0}
    keys = [s["key"] for s in spec["sections"]]
    assert keys == ["applicant", "item", "materials"]
    applicant, own, materials = (s["fields"] for s in spec["sections"])
    assert [f["name"] for f in applicant][:3] == ["applicant_name", "applicant_id_number", "applicant_phone"]
    assert [f["name"] for f in own] == [f["name"] for f in items["150626-ybj-003"]["fields"]]
    filing = next(f for f in own if f["name"] == "filing_type")
    assert filing["label"] == "备案类型" and filing["required"] is True
    assert filing["options"][0] == {"value": "long_term_residence", "label": "异地长期居住"}
    principal = next(f for f in applicant if f["name"] == "principal_name")
    assert principal["show_if"] == "principal_is_applicant == false"
    assert [m["index"] for m in spec["materials"]] == [1, 2]
    assert [f["name"] for f in materials] == ["material_1", "material_2"]
    assert all(f["type"] == "material" for f in materials)
    assert [f["required"] for f in materials] == [m["key"] for m in spec["materials"]]


def test_spec_in_english(items, guide):
    spec = build_form_spec(items["150626-ybj-003"], guide, locale="en")
    assert spec["item"]["name"] == "Registration for medical treatment outside the insured area"
    assert spec["sections"][0]["fields"][0]["label"] == "Applicant's name"


def test_colliding_names_are_refused(items, guide):
    item = dict(items["150626-rsj-001"])
    item["fields"] = [*item.get("fields", []), {"name": "applicant_name", "type": "text", "label": "姓名"}]
    with pytest.raises(FormSpecError, match=r"applicant_name.*150626-rsj-001.*applicant_name.*standard"):
        build_form_spec(item, guide)


def test_bad_conditions_are_refused(guide):
    item = {"code": "x", "name": "x", "kind": "instant", "fields": [
        {"name": "a", "type": "text", "label": "a", "show_if": "a.b"}]}
    with pytest.raises(FormSpecError, match="attribute"):
        build_form_spec(item, guide)
    item["fields"][0]["show_if"] = "nosuchfield == 1"
    with pytest.raises(FormSpecError, match="nosuchfield"):
        build_form_spec(item, guide)
    assert build_form_spec(item, guide, extra_names={"nosuchfield"})


# --- schema and validate_form ------------------------------------------------------------

DIVISION = "150626100201"


def validate_form(spec, formdata, files=None, **kw):
    """The real validate_form; the village below is a known division unless a test says otherwise."""
    kw.setdefault("divisions", {DIVISION})
    return _validate_form(spec, formdata, files, **kw)


def complete(**over):
    data = {"csrf_token": "tok", "applicant_name": " 张三 ", "applicant_id_number": VALID_ID,
            "applicant_phone": "13800138000", "applicant_division": DIVISION, "principal_is_applicant": "true",
            "filing_type": "temporary",
            "destination": "北京市", "start_date": "2024-05-01", "material_1": "true", "material_2": "true"}
    data.update(over)
    return {k: v for k, v in data.items() if v is not None}


def test_valid_form(spec):
    data, errors = validate_form(spec, complete(principal_name="李四"), {})
    assert errors == {}
    assert data["applicant_name"] == "张三"
    assert data["principal_is_applicant"] is True
    assert data["start_date"] == date(2024, 5, 1)
    assert "csrf_token" not in data
    assert "principal_name" not in data  # hidden by show_if: dropped, not validated


def test_principal_fields_required_only_when_principal_is_not_applicant(spec):
    _data, errors = validate_form(spec, complete(principal_is_applicant="false"), {})
    assert set(errors) == {"principal_name", "principal_id_number", "principal_phone"}
    assert [str(m) for m in errors["principal_name"]] == ["This field is required."]
    data, errors = validate_form(spec, complete(principal_is_applicant="false", principal_name="李四",
                                                principal_id_number="11010519491231002x",
                                                principal_phone="13912345678", principal_relation="spouse"), {})
    assert errors == {}
    assert data["principal_id_number"] == "11010519491231002X"


def test_hidden_fields_are_never_validated(spec):
    data, errors = validate_form(spec, complete(principal_id_number="garbage", referral_hospital=""), {})
    assert errors == {} and "principal_id_number" not in data


def test_errors_are_keyed_by_field_name(spec):
    _data, errors = validate_form(spec, complete(
        applicant_id_number=wrong_check(VALID_ID), applicant_phone="12345", filing_type="moon",
        start_date="2024-02-30", applicant_name="", material_1=None, principal_is_applicant="maybe"), {})
    messages = {k: [str(m) for m in v] for k, v in errors.items()}
    assert messages["applicant_id_number"] == ["Not a valid citizen ID number: the check digit is wrong."]
    assert messages["applicant_phone"][0].startswith("Not a valid mobile number")
    assert messages["filing_type"] == ["Choose one of the options offered."]
    assert messages["start_date"] == ["Enter a date (YYYY-MM-DD)."]
    assert messages["applicant_name"] == ["This field is required."]
    assert messages["principal_is_applicant"] == ["Choose yes or no."]
    key = next(m for m in spec["materials"] if m["key"])
    if key["index"] == 1:
        assert messages["material_1"] == ["This key material has not been received."]


def test_required_if_on_item_field(spec):
    _data, errors = validate_form(spec, complete(filing_type="referral"), {})
    assert list(errors) == ["referral_hospital"]
    data, errors = validate_form(spec, complete(filing_type="referral", referral_hospital="旗人民医院"), {})
    assert errors == {} and data["referral_hospital"] == "旗人民医院"


def test_multidict_input(spec):
    data, errors = validate_form(spec, MultiDict(complete()), MultiDict())
    assert errors == {} and data["filing_type"] == "temporary"


def upload_spec(guide):
    item = {"code": "t", "name": "t", "kind": "instant", "fields": [
        {"name": "scan", "type": "file", "label": "scan", "required": True},
        {"name": "services", "type": "multi_choice", "label": "s", "options": ["x", "y"]},
        {"name": "count", "type": "integer", "label": "n"},
        {"name": "amount", "type": "decimal", "label": "amount"},
        {"name": "note", "type": "long_text", "label": "note", "show_if": '"x" in services and count >= 2'},
        {"name": "village", "type": "division", "label": "village"},
    ]}
    return build_form_spec(item, {"code": "none"})


def test_uploads_are_checked_by_content_and_size(guide):
    spec = upload_spec(guide)

    def check(body, name="scan.pdf", **kw):
        return validate_form(spec, {}, {"scan": FileStorage(io.BytesIO(body), filename=name)}, **kw)

    data, errors = check(PNG, "renamed.pdf")
    assert errors == {} and data["scan"]["type"] == "png" and data["scan"]["size"] == len(PNG)
    assert check(PDF)[0]["scan"]["type"] == "pdf"
    assert [str(m) for m in check(b"GIF89a" + b"\0" * 20, "x.png")[1]["scan"]] == [
        "Only PDF, JPEG or PNG files are accepted."]
    assert "larger" in str(check(PDF + b"\0" * 100, max_upload_bytes=64)[1]["scan"][0])
    assert str(check(b"")[1]["scan"][0]) == "The file is empty."
    assert str(validate_form(spec, {}, {})[1]["scan"][0]) == "This field is required."
    assert str(validate_form(spec, {}, {"scan": FileStorage(io.BytesIO(b""), filename="")})[1]["scan"][0]) \
        == "This field is required."


def test_other_types_and_conditions(guide):
    spec = upload_spec(guide)
    files = {"scan": FileStorage(io.BytesIO(JPEG), filename="a.jpg")}
    form = MultiDict([("services", "x"), ("services", "y"), ("count", "3"), ("amount", "12.50"),
                      ("note", "hello"), ("village", "150626100200")])
    data, errors = validate_form(spec, form, files, divisions={"150626100200"})
    assert errors == {}
    assert data["services"] == ["x", "y"] and data["count"] == 3 and data["amount"] == Decimal("12.50")
    assert data["note"] == "hello" and data["village"] == "150626100200"
    form.setlist("count", ["1"])
    data, errors = validate_form(spec, form, files, divisions=set())  # no known divisions
    assert "note" not in data  # count < 2: hidden
    assert [str(m) for m in errors["village"]] == ["Not a known administrative division."]
    _data, errors = validate_form(spec, {"services": ["z"], "count": "1.5", "amount": "NaN"}, files)
    assert set(errors) == {"services", "count", "amount"}


def test_form_state_and_schema_instance(spec):
    schema = schema_for(spec)
    assert "applicant_name" in {f.data_key for f in schema.fields.values()}
    _values, hidden, required = form_state(spec, {"principal_is_applicant": "true"}, {})
    assert "principal_name" in hidden and "principal_name" not in required


@settings(max_examples=100, deadline=None)
@given(st.dictionaries(st.sampled_from(["applicant_name", "applicant_id_number", "principal_is_applicant",
                                        "filing_type", "start_date", "material_1", "principal_phone", "junk"]),
                       st.text(max_size=20) | st.lists(st.text(max_size=5), max_size=3) | st.none()))
def test_validate_form_never_raises(spec, formdata):
    data, errors = validate_form(spec, formdata, {})
    assert isinstance(data, dict) and isinstance(errors, dict)


# --- search ----------------------------------------------------------------------------------

def test_search(items):
    catalogue = list(items.values())
    departments = {"ybj": {"code": "ybj", "name": {"zh": "乌审旗医疗保障局", "en": "Healthcare Security Bureau"}}}
    moving = {"code": "9-hk", "name": {"zh": "户口迁移", "en": "Household move"}, "department": "gaj"}
    catalogue.append(moving)
    assert search_items(catalogue, "hkqy", departments)[0] is moving
    assert search_items(catalogue, "HKQY", departments)[0] is moving
    assert search_items(catalogue, "户口", departments)[0] is moving
    assert search_items(catalogue, "household move", departments)[0] is moving
    assert search_items(catalogue, "150626-mzj-001", departments)[0]["code"] == "150626-mzj-001"
    assert {i["code"] for i in search_items(catalogue, "医疗保障", departments)} >= {"150626-ybj-003"}
    assert search_items(catalogue, "zzzzqqq", departments) == []
    assert len(search_items(catalogue, " ", departments)) == len(catalogue)


def test_search_ranking():
    catalogue = [
        {"code": "b1", "name": "办理户口迁移"},   # substring
        {"code": "b2", "name": "户口迁移登记"},   # name prefix
        {"code": "hk", "name": "其他"},           # exact code
    ]
    assert [i["code"] for i in search_items(catalogue, "户口迁移", {})] == ["b2", "b1"]
    assert [i["code"] for i in search_items(catalogue, "hk", {})] == ["hk", "b2", "b1"]


# --- rendering -------------------------------------------------------------------------------

@pytest.fixture
def render_app(tmp_path):
    from core import create_app

    app = create_app(data_dir=str(tmp_path / "var"), database_url=f"sqlite:///{tmp_path / 'db.sqlite3'}",
                     plugins="", secret_key="t")
    app.config["TESTING"] = True
    yield app
    app.extensions["bangban"].db.close()


def render(app, spec, values=None, errors=None, **kw):
    from flask import render_template_string

    with app.test_request_context("/?lang=en"):
        return render_template_string(
            '{% from "forms/macros.html" import render_form %}'
            '{{ render_form(spec, values, errors, "tok", hidden=hidden) }}',
            spec=spec, values=values or {}, errors=errors or {}, hidden=kw.get("hidden"))


def test_macro_renders_every_field(render_app, spec):
    html = render(render_app, spec)
    assert 'name="csrf_token" value="tok"' in html
    for f in (f for s in spec["sections"] for f in s["fields"]):
        assert f'name="{f["name"]}"' in html
        if f["type"] not in ("yes_no", "multi_choice"):
            assert f'<label for="f-{f["name"]}">' in html
    assert re.search(r'<input type="text" maxlength="500" id="f-applicant_name" name="applicant_name" value="" required', html)
    assert 'type="tel"' in html and 'type="date"' in html and "<select" in html and 'type="radio"' in html
    assert 'data-show-if="principal_is_applicant == false"' in html
    assert 'data-show-if="filing_type == &#34;referral&#34;"' in html
    assert '<table class="list materials-checklist">' in html
    assert spec["materials"][0]["name"] in html
    assert "forms.js" in html and "<script>" not in html


def test_macro_renders_errors_and_values(render_app, spec):
    values = MultiDict({"applicant_name": "<b>张三</b>", "filing_type": "referral", "principal_is_applicant": "false"})
    _data, errors = validate_form(spec, values, {})
    html = render(render_app, spec, values, errors, hidden={"referral_hospital"})
    assert "&lt;b&gt;张三&lt;/b&gt;" in html and "<b>张三" not in html
    assert 'aria-describedby="f-applicant_phone-error"' in html
    assert re.search(r'class="field-error" id="f-applicant_phone-error"[^>]*><p>This field is required.</p>', html)
    assert '<option value="referral" selected>' in html
    assert re.search(r'id="f-principal_is_applicant-no" name="principal_is_applicant" value="false" checked', html)
    assert re.search(r'id="f-referral_hospital-field"[^>]* hidden>', html)


def test_forms_js_is_served(render_app):
    response = render_app.test_client().get("/static/forms.js")
    assert response.status_code == 200 and b"data-show-if" in response.data
    response.close()
