"""Catalog import/export (core.catalog_io and ``bangban catalog``) on SQLite and PostgreSQL."""
import os
import subprocess
import sys
from pathlib import Path

import openpyxl
import pytest
import yaml

from core import catalog_io as cio
from core.metadata import store
from core.metadata.loader import canonical_json, load
from core.models import AuditEntry, MetadataRecord, MetadataSync
from tests.conftest import pack_dirs

ROOT = Path(__file__).parent.parent
FORMS = "must be one of 原件, 复印件, 原件及复印件, 电子版"


def counts():
    return MetadataRecord.select().count(), MetadataSync.select().count(), AuditEntry.select().count()


def versions(kind="items"):
    return {(r.key, r.version): r.current for r in MetadataRecord.select().where(MetadataRecord.kind == kind)}


@pytest.fixture
def synced(app, packs):
    with app.app_context():
        store.sync(load(pack_dirs(packs)))
    return app


@pytest.fixture
def workbook(synced, tmp_path):
    path = tmp_path / "catalog.xlsx"
    with synced.app_context():
        cio.export_xlsx(path)
    return path


def find(ws, header, code=None, seq=None, row=None):
    """The cell under ``header`` in the row of item ``code`` (material ``seq``) or ``row``."""
    headers = [c.value for c in ws[1]]
    column = headers.index(header) + 1
    if row is None:
        row = next(r for r in range(2, ws.max_row + 1) if ws.cell(r, 1).value == code
                   and (seq is None or ws.cell(r, 2).value == seq))
    return ws.cell(row, column)


def edit(path, *changes):
    """Apply ``(sheet, header, value, where)`` changes; return the cells' coordinates."""
    book = openpyxl.load_workbook(path)
    coords = []
    for sheet, header, value, where in changes:
        cell = find(book[sheet], header, **where)
        cell.value = value
        coords.append(cell.coordinate)
    book.save(path)
    return coords


def db_items():
    return {x["item"]["code"]: x["item"] for x in cio.current_items()}


def test_xlsx_round_trip_changes_nothing(synced, workbook):
    calls = []
    with synced.app_context():
        before, stored = counts(), db_items()
        result = cio.import_xlsx(workbook, progress=lambda *a: calls.append(a))
        assert result.ok, "\n".join(map(str, result.problems))
        assert len(result.items) == len(stored) == 106 and set(result.items_by_pack) == {"wushen"}
        for entry in result.items:
            assert canonical_json(entry["item"]) == canonical_json(stored[entry["item"]["code"]])
        counts_ = cio.apply_import(result, actor="tester", role="county_admin",
                                   progress=lambda *a: calls.append(a))
        assert counts_["added"] == counts_["changed"] == counts_["retired"] == 0
        assert counts() == before, "no new versions, no MetadataSync, no audit entry"
    stages = {stage for _done, _total, stage in calls}
    assert {"read 事项", "read 材料", "validate", "store"} <= stages
    assert all(0 <= done <= total for done, total, _ in calls)


def test_workbook_layout(workbook):
    book = openpyxl.load_workbook(workbook)
    items, materials = book["事项"], book["材料"]
    headers = [c.value for c in items[1]]
    assert headers[:4] == ["事项编码", "事项名称", "英文名称", "蒙古文名称"]
    assert headers[headers.index("所属元数据包") - 1] == "表单字段" and headers[-1] == "其他(JSON)"
    assert [c.value for c in materials[1]][:9] == ["事项编码", "序号", "材料名称", "原件/复印件", "份数", "核心材料",
                                                   "填写说明", "示范文本", "备注"]
    row = {h: c.value for h, c in zip(headers, items[2])}
    assert row["办件类型"] in ("即办件", "承诺件", "重大事项") and row["网上可办"] in ("是", "否")
    assert set(row["办理层级"].split("、")) <= {"旗县", "苏木镇", "嘎查村"}
    first_translation = openpyxl.utils.get_column_letter(headers.index("所属元数据包") + 2)
    assert items.column_dimensions[first_translation].hidden, "translations are grouped and folded"


@pytest.mark.parametrize("change", ["material count", "promised days"])
def test_one_edited_cell_versions_exactly_that_item(synced, workbook, change):
    with synced.app_context():
        stored = db_items()
        if change == "material count":
            code = sorted(stored)[5]
            edit(workbook, ("材料", "份数", 3, {"code": code, "seq": 1}))
        else:
            code = next(c for c, i in sorted(stored.items()) if i["promised_days"] == 10 and i["legal_days"] == 20)
            edit(workbook, ("事项", "承诺时限", 5, {"code": code}))
        before = versions()
        result = cio.import_xlsx(workbook)
        assert result.ok, "\n".join(map(str, result.problems))
        assert cio.apply_import(result, actor="tester", role="county_admin")["changed"] == 1
        after = versions()
        assert set(after) - set(before) == {(code, 2)} and after[(code, 1)] is False
        content = MetadataRecord.get((MetadataRecord.key == code) & MetadataRecord.current).content
        if change == "material count":
            assert content["materials"][0]["count"] == 3
        else:
            assert content["promised_days"] == 5 and isinstance(content["promised_days"], int)
        assert [e.action for e in AuditEntry.select().order_by(AuditEntry.seq)][-1] == "metadata.sync"


CASES = {
    "bad enum": (("材料", "原件/复印件", "原件和复印件", "material"), "材料!{0}: 原件/复印件: " + FORMS),
    "wrong type": (("事项", "承诺时限", "三天", "item"), "事项!{0}: 承诺时限: Not a valid number."),
    "not an integer": (("材料", "份数", "1.5", "material"), "材料!{0}: 份数: Not a valid integer."),
    "not yes/no": (("事项", "网上可办", "可以", "item"), "事项!{0}: 网上可办: Not a valid boolean."),
    "unknown department": (("事项", "实施部门", "nosuch", "item"),
                           "事项!{0}: 实施部门: {code}: refers to department 'nosuch', which does not exist"),
    "bad form fields": (("事项", "表单字段", "[{\"name\": 1}", "item"), "事项!{0}: 表单字段: not valid JSON"),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_problem_is_reported_at_its_cell_and_nothing_changes(synced, workbook, case):
    (sheet, header, value, target), expected = CASES[case]
    with synced.app_context():
        code = sorted(db_items())[3]
        where = {"code": code, "seq": 2} if target == "material" else {"code": code}
        (coord,) = edit(workbook, (sheet, header, value, where))
        before = counts()
        result = cio.import_xlsx(workbook)
        messages = [str(p) for p in result.problems]
        assert any(m.startswith(expected.format(coord, code=code)) for m in messages), messages
        with pytest.raises(cio.CatalogImportError):
            cio.apply_import(result)
        assert counts() == before


def test_missing_column_and_duplicate_code(synced, workbook):
    book = openpyxl.load_workbook(workbook)
    ws = book["事项"]
    second = ws.cell(2, 1).value
    ws.cell(3, 1).value = second
    ws.delete_cols([c.value for c in ws[1]].index("收费") + 1)
    book.save(workbook)
    with synced.app_context():
        before = counts()
        messages = [str(p) for p in cio.import_xlsx(workbook).problems]
        assert messages == ["事项!1: 收费: required column is missing"], "rows are read only with every column"
        book = openpyxl.load_workbook(workbook)
        book["事项"].insert_cols(13)
        book["事项"].cell(1, 13).value = "收费"
        book.save(workbook)
        messages = [str(p) for p in cio.import_xlsx(workbook).problems]
        assert f"事项!A3: 事项编码: duplicate code '{second}' (also in row 2)" in messages
        assert counts() == before


def test_every_problem_is_reported_at_once(synced, workbook):
    with synced.app_context():
        a, b = sorted(db_items())[:2]
        coords = edit(workbook, ("事项", "办件类型", "急件", {"code": a}), ("事项", "办理层级", "省级、旗县", {"code": b}),
                      ("材料", "核心材料", "也许", {"code": b, "seq": 1}), ("材料", "事项编码", "nope", {"code": a, "seq": 1}))
        messages = [str(p) for p in cio.import_xlsx(workbook).problems]
        assert f"事项!{coords[0]}: 办件类型: must be one of 即办件, 承诺件, 重大事项" in messages
        assert f"事项!{coords[1]}: 办理层级: must be one of 旗县, 苏木镇, 嘎查村" in messages
        assert f"材料!{coords[2]}: 核心材料: Not a valid boolean." in messages
        assert f"材料!{coords[3]}: 事项编码: no item 'nope' on sheet 事项" in messages


def test_items_import_retires_left_out_items_only(synced, workbook):
    with synced.app_context():
        book = openpyxl.load_workbook(workbook)
        gone = book["事项"].cell(2, 1).value
        book["事项"].delete_rows(2)
        materials = book["材料"]
        for row in reversed(range(2, materials.max_row + 1)):
            if materials.cell(row, 1).value == gone:
                materials.delete_rows(row)
        book.save(workbook)
        departments = versions("departments")
        result = cio.import_xlsx(workbook)
        assert result.ok, "\n".join(map(str, result.problems))
        assert cio.apply_import(result) == {"added": 0, "changed": 0, "retired": 1, "unchanged": 132}
        assert MetadataRecord.get((MetadataRecord.key == gone) & (MetadataRecord.kind == "items")).current is False
        assert versions("departments") == departments and MetadataRecord.select().where(
            (MetadataRecord.kind == "regions") & MetadataRecord.current).count() > 20


def test_values_cells_cannot_show_survive_and_edits_win(synced, tmp_path):
    path = tmp_path / "odd.xlsx"
    with synced.app_context():
        item = dict(db_items()[sorted(db_items())[0]])
        item.update(name={"zh": "只有中文"}, channels=[], keywords=["甲、乙", "丙"],
                    conditions={"zh": " 前后有空格 ", "mn": "ᠮᠣᠩᠭᠣᠯ"},
                    legal_days=20.0, promised_days=0.5, phone="04777621101",
                    fee='=HYPERLINK("http://x","y")', hours="上午\r\n下午")
        item["materials"] = [dict(item["materials"][0], note={"zh": "备注", "en": "Note"}, count=2)]
        others = [x["item"] for x in cio.current_items() if x["item"]["code"] != item["code"]]
        cio.apply_items({"wushen": [item, *others]}, actor="tester", role="county_admin")
        before = counts()
        cio.export_xlsx(path)
        result = cio.import_xlsx(path)
        assert result.ok, "\n".join(map(str, result.problems))
        back = next(x["item"] for x in result.items if x["item"]["code"] == item["code"])
        assert canonical_json(back) == canonical_json(item)
        fee = find(openpyxl.load_workbook(path)["事项"], "收费", code=item["code"])
        assert fee.data_type == "s" and fee.value == item["fee"], "text is never written as a formula"
        assert cio.apply_import(result)["changed"] == 0 and counts() == before
        edit(path, ("事项", "关键词", "新词、另一个", {"code": item["code"]}),
             ("事项", "事项名称", "改名", {"code": item["code"]}))
        back = next(x["item"] for x in cio.import_xlsx(path).items if x["item"]["code"] == item["code"])
        assert back["keywords"] == ["新词", "另一个"] and back["name"] == "改名"
        assert back["conditions"] == item["conditions"], "untouched cells keep their exact values"


def test_yaml_round_trip_and_errors(synced, tmp_path):
    out = tmp_path / "yaml"
    with synced.app_context():
        before = counts()
        assert len(cio.export_yaml(out)) >= 10
        result = cio.import_yaml(out)
        assert result.ok, "\n".join(map(str, result.problems))
        assert {p.name for p in result.packs} == {"core", "bank_partnership", "wushen", "demo"} \
            and len(result.items) == 106
        assert cio.apply_import(result)["changed"] == 0 and counts() == before
        # one pack alone: the others come from the database
        assert cio.apply_import(cio.import_yaml(out / "wushen"))["changed"] == 0 and counts() == before
        path = out / "wushen" / "items.yaml"
        doc = yaml.safe_load(path.read_text(encoding="utf-8"))
        doc["items"][0]["department"] = "nosuch"
        path.write_text(yaml.safe_dump(doc, allow_unicode=True), encoding="utf-8")
        messages = [str(p) for p in cio.import_yaml(out).problems]
        assert len(messages) == 1 and "items[0].department" in messages[0] and "'nosuch'" in messages[0]
        assert counts() == before


def bangban(*args, data, database_url):
    env = {**{k: v for k, v in os.environ.items() if not k.startswith("BANGBAN_")},
           "BANGBAN_DATA_DIR": str(data), "BANGBAN_DATABASE_URL": database_url, "BANGBAN_PLUGINS": "wushen,bank_partnership"}
    # core.cli registers the group itself once wired; until then register it here (register is idempotent)
    entry = "from core.cli import cli, main; from core.cli_catalog import register; register(cli); main()"
    return subprocess.run([sys.executable, "-c", entry, *args], capture_output=True, text=True, env=env, cwd=ROOT)


def test_cli_export_and_import(synced, tmp_path, database_url):
    data, book = tmp_path / "cli", tmp_path / "x.xlsx"
    with synced.app_context():
        before = counts()
        code = sorted(db_items())[0]
    result = bangban("catalog", "export", str(book), data=data, database_url=database_url)
    assert result.returncode == 0, result.stderr
    assert "wrote 106 item(s)" in result.stdout and book.exists()
    result = bangban("catalog", "import", str(book), data=data, database_url=database_url)
    assert result.returncode == 0, result.stderr
    assert "0 added, 0 changed, 0 retired" in result.stdout and "validate" in result.stderr
    (coord,) = edit(book, ("材料", "原件/复印件", "手抄件", {"code": code, "seq": 1}))
    result = bangban("catalog", "import", str(book), data=data, database_url=database_url)
    assert result.returncode == 1
    assert f"材料!{coord}: 原件/复印件: {FORMS}" in result.stderr and "nothing was changed" in result.stderr
    result = bangban("catalog", "export", str(tmp_path / "packs"), data=data, database_url=database_url)
    assert result.returncode == 1 and "not empty" in result.stderr, "never mixes files into existing packs"
    result = bangban("catalog", "export", str(tmp_path / "exported"), data=data, database_url=database_url)
    assert result.returncode == 0, result.stderr
    result = bangban("catalog", "import", str(tmp_path / "exported"), data=data, database_url=database_url)
    assert result.returncode == 0 and "0 changed" in result.stdout, result.stderr
    with synced.app_context():
        assert counts() == before


def test_apply_items_validates_first(synced):
    with synced.app_context():
        before, items = counts(), [x["item"] for x in cio.current_items()]
        with pytest.raises(cio.CatalogImportError, match=r"items\[0\]\.kind: .*Must be one of"):
            cio.apply_items({"wushen": [{**items[0], "kind": "fast"}, *items[1:]]})
        with pytest.raises(cio.CatalogImportError, match="unknown pack 'nopack'"):
            cio.apply_items({"nopack": items})
        with pytest.raises(cio.CatalogImportError, match="refers to department 'nosuch'"):
            cio.apply_items({"wushen": [{**items[0], "department": "nosuch"}, *items[1:]]})
        assert counts() == before
