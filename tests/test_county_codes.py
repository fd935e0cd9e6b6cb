"""Codes are unique within a county: two counties may both have a
department ``mzj``, each county's entries refer to its own (or national)
codes, never to another county's."""
from __future__ import annotations

import pytest

from core import catalog
from core.metadata import store
from core.metadata.loader import MetadataInvalid, load
from core.paths import METADATA


def _pack(root, name, county, department_name, item_department="mzj"):
    pack = root / name
    pack.mkdir()
    (pack / "pack.yaml").write_text(f'name: {name}\ncounty: "{county}"\nversion: "1"\n', encoding="utf-8")
    (pack / "data.yaml").write_text(f"""
departments:
  - {{code: mzj, name: {department_name}}}
regions:
  - {{code: "{county}", level: county, name: {name}}}
items:
  - code: {county}-mzj-001
    name: 临时救助（{name}）
    department: {item_department}
    kind: promised
    type: public_service
    levels: [township]
    promised_days: 5
    materials:
      - {{name: 身份证, form: original}}
""", encoding="utf-8")
    return pack


def test_two_counties_may_use_the_same_department_code(tmp_path, app):
    packs = [METADATA / "core", _pack(tmp_path, "boshan", "370304", "博山区民政局"),
             _pack(tmp_path, "neixiang", "411325", "内乡县民政局")]
    merged = load(packs)
    assert merged.lookup("departments", "mzj", "370304").data["name"] == "博山区民政局"
    assert merged.lookup("departments", "mzj", "411325").data["name"] == "内乡县民政局"
    assert merged.lookup("departments", "mzj", "150626") is None  # a third county has none
    with app.app_context():
        store.sync(merged, actor="test")
        assert catalog.current("departments", "mzj", county="370304").content["name"] == "博山区民政局"
        assert catalog.current("departments", "mzj", county="411325").content["name"] == "内乡县民政局"
        assert catalog.current("departments", "mzj", county="150626") is None
        # editing one county's entry leaves the other's alone
        record = catalog.current("departments", "mzj", county="411325")
        store.save_entries([("departments", {"code": "mzj", "name": "内乡县民政局（新）"}, record.pack)],
                           actor="test", role="test")
        assert catalog.current("departments", "mzj", county="411325").content["name"] == "内乡县民政局（新）"
        assert catalog.current("departments", "mzj", county="370304").content["name"] == "博山区民政局"


def test_a_county_cannot_refer_to_another_countys_code(tmp_path):
    first = _pack(tmp_path, "boshan", "370304", "博山区民政局")
    second = tmp_path / "neixiang"
    second.mkdir()
    (second / "pack.yaml").write_text('name: neixiang\ncounty: "411325"\nversion: "1"\n', encoding="utf-8")
    (second / "data.yaml").write_text("""
items:
  - code: 411325-mzj-001
    name: 临时救助
    department: mzj
    kind: promised
    type: public_service
    levels: [township]
    promised_days: 5
    materials:
      - {name: 身份证, form: original}
""", encoding="utf-8")
    with pytest.raises(MetadataInvalid) as caught:
        load([METADATA / "core", first, second])
    assert "refers to department 'mzj', which does not exist" in str(caught.value)
