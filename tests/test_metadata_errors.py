"""Bad metadata gets one clear error per problem, with file, line and key."""
import random
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from core.metadata.loader import MetadataInvalid, load
from tests.conftest import pack_dirs

ITEM = """\
items:
  - code: T-001
    name: 测试事项
    type: public_service
    levels: [village]
    department: rsj
    promised_days: 1
    kind: promised
"""


def write_pack(root: Path, name, files, **manifest):
    folder = root / name
    folder.mkdir(parents=True)
    head = {"name": name, "version": "1", **manifest}
    lines = []
    for key, value in head.items():
        lines.append(f"{key}: {value!r}" if not isinstance(value, list) else f"{key}: [{', '.join(value)}]")
    (folder / "pack.yaml").write_text("\n".join(lines) + "\n", encoding="utf-8")
    for filename, text in files.items():
        (folder / filename).write_text(textwrap.dedent(text), encoding="utf-8")
    return folder


def errors_of(paths):
    with pytest.raises(MetadataInvalid) as info:
        load(paths)
    return info.value.errors


def test_shipped_packs_are_valid(packs):
    catalog = load(pack_dirs(packs))
    assert len(catalog.kinds["items"]) >= 100
    assert {"grassroots_agent", "project_specialist", "department_helper", "stage_tracker", "supervisor",
            "grid_agent", "county_admin", "system_admin", "security_admin", "audit_admin"} <= set(catalog.kinds["roles"])


def test_malformed_yaml_names_file_and_line(packs):
    bad = packs / "wushen" / "broken.yaml"
    bad.write_text("items:\n  - code: X\n    name: [unclosed\n", encoding="utf-8")
    errors = errors_of(pack_dirs(packs))
    assert len(errors) == 1
    assert errors[0].file == str(bad)
    assert errors[0].line == 4
    assert "malformed YAML" in errors[0].message


def test_wrong_type_missing_and_unknown_key_each_reported(packs):
    text = (packs / "wushen" / "items_village.yaml").read_text(encoding="utf-8")
    extra = textwrap.dedent("""\
    items:
      - code: BAD-1
        name: 错误类型
        type: public_service
        levels: [village]
        department: rsj
        promised_days: "three"
        kind: promised
      - code: BAD-2
        type: public_service
        levels: [village]
        department: rsj
        promised_days: 1
        kind: promised
      - code: BAD-3
        name: 未知键
        type: public_service
        levels: [village]
        department: rsj
        promised_days: 1
        kind: promised
        colour: red
    """)
    target = packs / "wushen" / "zz_bad.yaml"
    target.write_text(extra, encoding="utf-8")
    errors = errors_of(pack_dirs(packs))
    by_path = {e.path: e for e in errors}
    assert set(by_path) == {"items[0].promised_days", "items[1].name", "items[2].colour"}
    assert by_path["items[0].promised_days"].line == 7
    assert "number" in by_path["items[0].promised_days"].message.lower()
    assert by_path["items[1].name"].line == 9  # the entry itself: its 'name' key is missing
    assert "required" in by_path["items[1].name"].message.lower()
    assert by_path["items[2].colour"].line == 22
    assert "unknown" in by_path["items[2].colour"].message.lower()
    assert all(e.file == str(target) for e in errors)
    assert text  # the original file is untouched by loading


def test_nested_error_has_full_key_path(tmp_path, packs):
    target = packs / "wushen" / "zz_nested.yaml"
    target.write_text(ITEM + "    materials:\n      - name: 身份证\n        form: photocopy\n", encoding="utf-8")
    (errors,) = errors_of(pack_dirs(packs))
    assert errors.path == "items[0].materials[0].form"
    assert errors.line == 11
    assert str(target) in str(errors) and ":11:" in str(errors)


def test_duplicate_code_across_packs_is_an_error(tmp_path, packs):
    copy = (packs / "wushen" / "items_village.yaml").read_text(encoding="utf-8")
    write_pack(tmp_path, "other", {"items.yaml": copy})
    errors = errors_of([*pack_dirs(packs), tmp_path / "other"])
    assert errors, "duplicates must be reported"
    assert all("duplicate items code" in e.message for e in errors)
    assert all("overrides" in e.message for e in errors)
    first = errors[0]
    assert first.line is not None and first.path.startswith("items[")


def test_explicit_override_wins_regardless_of_order(tmp_path, packs):
    override = write_pack(tmp_path, "county_fix", {"items.yaml": """\
        items:
          - code: 150626-rsj-001
            name: 覆盖后的名称
            type: public_service
            levels: [village]
            department: rsj
            promised_days: 2
            kind: promised
        """}, overrides=["wushen"])
    paths = [*pack_dirs(packs), override]
    names = set()
    for seed in range(4):
        shuffled = paths[:]
        random.Random(seed).shuffle(shuffled)
        catalog = load(shuffled)
        names.add(catalog.get("items", "150626-rsj-001")["name"])
        assert catalog.kinds["items"]["150626-rsj-001"].pack == "county_fix"
    assert names == {"覆盖后的名称"}


def test_override_must_name_a_loaded_pack(tmp_path, packs):
    override = write_pack(tmp_path, "fix", {"x.yaml": "roles: []\n"}, overrides=["nonexistent"])
    errors = errors_of([*pack_dirs(packs), override])
    assert [e.path for e in errors] == ["overrides"]
    assert "nonexistent" in errors[0].message


def test_dangling_references_are_errors(packs):
    target = packs / "wushen" / "zz_refs.yaml"
    target.write_text(ITEM.replace("department: rsj", "department: no_such_dept")
                      + "    roles: [grassroots_agent, no_such_role]\n", encoding="utf-8")
    errors = errors_of(pack_dirs(packs))
    messages = {e.path: e.message for e in errors}
    assert set(messages) == {"items[0].department", "items[0].roles"}
    assert "no_such_dept" in messages["items[0].department"] and "does not exist" in messages["items[0].department"]
    assert "no_such_role" in messages["items[0].roles"]
    lines = {e.path: e.line for e in errors}
    assert lines["items[0].department"] == 6
    assert lines["items[0].roles"] == 9


def test_all_errors_collected_across_files(packs):
    (packs / "wushen" / "zz_a.yaml").write_text("items:\n  - code: A\n", encoding="utf-8")
    (packs / "core" / "zz_b.yaml").write_text("widgets: []\n", encoding="utf-8")
    errors = errors_of(pack_dirs(packs))
    files = {Path(e.file).name for e in errors}
    assert files == {"zz_a.yaml", "zz_b.yaml"}
    assert any("unknown kind" in e.message for e in errors)


def test_region_codes_are_validated(packs):
    (packs / "demo" / "zz_r.yaml").write_text(
        "regions:\n  - code: '15062610'\n    level: township\n    name: 坏\n    parent: '150626'\n", encoding="utf-8")
    errors = errors_of(pack_dirs(packs))
    assert [e.path for e in errors] == ["regions[0].code"]


def test_cli_check_lists_every_error_and_changes_nothing(tmp_path, packs):
    (packs / "wushen" / "zz_a.yaml").write_text("items:\n  - code: A\n", encoding="utf-8")
    (packs / "demo" / "zz_b.yaml").write_text("regions: {}\n", encoding="utf-8")
    env = {"BANGBAN_DATA_DIR": str(tmp_path / "var"), "BANGBAN_PLUGINS": "", "PATH": "/usr/bin:/bin"}
    result = subprocess.run([sys.executable, "-m", "core.cli", "metadata", "check", *map(str, pack_dirs(packs))],
                            capture_output=True, text=True, env=env, cwd=Path(__file__).parent.parent)
    assert result.returncode == 1
    assert "zz_a.yaml:2: items[0].name" in result.stderr
    assert "zz_b.yaml:1: regions: must be a list" in result.stderr
    assert "error(s)" in result.stderr
    assert not (tmp_path / "var").exists(), "check must not create or touch a database"


def test_unsafe_or_broken_form_condition_is_a_metadata_error(packs):
    target = packs / "wushen" / "zz_cond.yaml"
    target.write_text(ITEM + "    fields:\n      - name: age\n        type: integer\n        label: 年龄\n"
                      "        show_if: \"__import__('os').system('x')\"\n", encoding="utf-8")
    (error,) = errors_of(pack_dirs(packs))
    assert error.path == "items[0].fields" and error.line == 9
    assert "T-001" in error.message


def test_item_field_clashing_with_applicant_field_is_an_error(packs):
    target = packs / "wushen" / "zz_clash.yaml"
    target.write_text(ITEM + "    fields:\n      - name: applicant_name\n        type: text\n        label: 姓名\n",
                      encoding="utf-8")
    (error,) = errors_of(pack_dirs(packs))
    assert "applicant_name" in error.message
