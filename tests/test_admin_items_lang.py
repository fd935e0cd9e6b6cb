"""The structured item form in the back office edits each language in its
own box: saving it unchanged, in any interface language, changes nothing
(no language is written into another, no new version)."""
import re
from pathlib import Path
from html.parser import HTMLParser

import pytest
import yaml

from core.models import MetadataRecord
from tests.helpers import sign_in

LANGS = ("zh_Hans_CN", "mn_Mong_CN", "en")


class FormReader(HTMLParser):
    """What a browser submits for the form ``form_id`` as the page stands:
    inputs (checkboxes only when checked), textareas, selects (the selected
    option, else the first)."""

    def __init__(self, form_id):
        super().__init__(convert_charrefs=True)
        self.form_id, self.inside, self.fields = form_id, False, []
        self._textarea = self._select = None
        self._options = []

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag == "form":
            self.inside = a.get("id") == self.form_id
        if not self.inside:
            return
        if tag == "input" and a.get("name"):
            if a.get("type") in ("checkbox", "radio") and "checked" not in a:
                return
            self.fields.append((a["name"], a.get("value", "on" if a.get("type") == "checkbox" else "")))
        elif tag == "textarea":
            self._textarea = [a.get("name"), ""]
        elif tag == "select":
            self._select, self._options = a.get("name"), []
        elif tag == "option" and self._select is not None:
            self._options.append([a.get("value"), "selected" in a, ""])

    def handle_data(self, data):
        if self._textarea is not None:
            self._textarea[1] += data
        elif self._select is not None and self._options and self._options[-1][0] is None:
            self._options[-1][2] += data

    def handle_endtag(self, tag):
        if tag == "form":
            self.inside = False
        elif tag == "textarea" and self._textarea is not None:
            name, text = self._textarea
            self.fields.append((name, text[1:] if text.startswith("\n") else text))
            self._textarea = None
        elif tag == "select" and self._select is not None:
            chosen = next((o for o in self._options if o[1]), self._options[0] if self._options else None)
            if chosen is not None:
                self.fields.append((self._select, chosen[0] if chosen[0] is not None else chosen[2]))
            self._select = None


def form_data(html, form_id="item-form"):
    reader = FormReader(form_id)
    reader.feed(html)
    data = {}
    for name, value in reader.fields:
        data.setdefault(name, []).append(value)
    return data


def current_items(app):
    with app.app_context():
        return {r.key: (r.version, r.content) for r in MetadataRecord.select().where(
            (MetadataRecord.kind == "items") & MetadataRecord.current & (MetadataRecord.county_code == "150626"))}


def test_saving_every_item_form_unchanged_in_every_language_changes_nothing(demo_app):
    client = demo_app.test_client()
    assert sign_in(client, "county.admin").status_code == 302
    before = current_items(demo_app)
    assert len(before) > 50
    # the data that the old form lost: texts in several languages
    assert any(isinstance(content["name"], dict) and content["name"].get("en") for _v, content in before.values())
    for lang in LANGS:
        client.get(f"/admin/?lang={lang}")
        for key in sorted(before):
            page = client.get(f"/admin/items/edit/{key}")
            assert page.status_code == 200
            response = client.post(f"/admin/items/edit/{key}", data=form_data(page.get_data(as_text=True)))
            assert response.status_code == 302, (lang, key, response.get_data(as_text=True)[-1500:])
    after = current_items(demo_app)
    changed = [key for key in before if before[key] != after[key]]
    assert changed == []


def test_each_language_is_edited_in_its_own_box(demo_app):
    client = demo_app.test_client()
    assert sign_in(client, "county.admin").status_code == 302
    key = "150626-rsj-013"
    client.get("/admin/?lang=en")
    data = form_data(client.get(f"/admin/items/edit/{key}").get_data(as_text=True))
    assert data["name"] == ["失业登记"] and data["name.en"] == ["Unemployment registration"]
    data["name.mn"] = ["ᠠᠵᠢᠯ ᠦᠭᠡᠢ ᠪᠦᠷᠢᠳᠬᠡᠯ"]
    data["name.en"] = ["Registering as unemployed"]
    data["f0_label.en"] = ["Citizen ID number"]
    response = client.post(f"/admin/items/edit/{key}", data=data)
    assert response.status_code == 302
    content = current_items(demo_app)[key][1]
    assert content["name"] == {"zh": "失业登记", "en": "Registering as unemployed", "mn": "ᠠᠵᠢᠯ ᠦᠭᠡᠢ ᠪᠦᠷᠢᠳᠬᠡᠯ"}
    # the Mongolian drafts the pack carries stay as they are
    pack = {i["code"]: i for i in yaml.safe_load(
        (Path(__file__).parent.parent / "metadata/wushen/items_township.yaml").read_text("utf-8"))["items"]}[key]
    assert content["fields"][0]["label"] == {"zh": "公民身份号码", "en": "Citizen ID number",
                                             "mn": pack["fields"][0]["label"]["mn"]}
    assert content["materials"][0]["name"] == {"zh": "居民身份证或社会保障卡", "mn": pack["materials"][0]["name"]["mn"]}


@pytest.mark.parametrize("lang, message", [("zh_Hans_CN", "该字段是必填字段"), ("en", "This field is required"),
                                          ("mn_Mong_CN", "ᠡᠨᠡ ᠬᠡᠰᠡᠭ ᠢ ᠵᠠᠪᠠᠯ ᠳᠡᠭᠦᠷᠭᠡᠨ᠎ᠡ")])
def test_a_refused_back_office_save_answers_400_in_the_users_language(demo_app, lang, message):
    from core.models import Holiday

    client = demo_app.test_client()
    assert sign_in(client, "county.admin").status_code == 302
    client.get(f"/admin/?lang={lang}")
    page = client.get("/admin/holiday_admin/new/").get_data(as_text=True)
    token = re.findall(r'name="csrf_token"[^>]*value="([^"]+)"', page)
    with demo_app.app_context():
        count = Holiday.select().count()
    response = client.post("/admin/holiday_admin/new/", data={"csrf_token": token[0], "day": "2026-13-45",
                                                                "kind": "holiday", "name": "坏日子"})
    assert response.status_code == 400
    html = response.get_data(as_text=True)
    assert message in html
    if lang != "en":
        assert "This field is required" not in html
    with demo_app.app_context():
        assert Holiday.select().count() == count
