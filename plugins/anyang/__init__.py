"""安阳县 (410522), standing in for the county of seed 002 (审服办〔2021〕13号
《关于政务服务向基层延伸的工作要求》, which names no county): its catalog,
townships, site standards, rule set, guide fields and roles are metadata
(metadata/anyang), its demo villages, sites and staff a demo pack
(metadata/anyang_demo).

Code only for what data cannot say: 容缺受理 (四(一)) accepts a case with a
non-key material to follow, never with a key one missing. The rule set says
so (``rules.tolerant_acceptance.key_materials_may_be_missing: false``); the
``case_moved`` hook enforces it on any transition that asks for the missing
material, for every county whose rule set carries that rule.
"""
from __future__ import annotations

import re

from flask_babel import lazy_gettext as _l

from core.hookspecs import hookimpl
from core.paths import METADATA

COUNTY = "410522"


@hookimpl
def register_metadata_packs(register):
    register(METADATA / "anyang")


@hookimpl
def register_demo_packs(register):
    register(METADATA / "anyang_demo", county=COUNTY)


def _plain(text) -> str:
    """A material's name without spaces and punctuation, for comparison."""
    if isinstance(text, dict):
        text = text.get("zh", "")
    return re.sub(r"[\s,，、;；:：.。()（）《》“”\"'/]+", "", str(text or ""))


def key_material(item: dict, named: str):
    """The name of the item's key material that ``named`` designates, or None.

    A name equal to a non-key material is that material; otherwise a name
    that equals, contains or is contained in a key material's name designates
    it (agents write "户口簿" for "居民身份证、居民户口簿")."""
    wanted = _plain(named)
    if not wanted:
        return None
    materials = [(m, _plain(m.get("name"))) for m in item.get("materials") or ()]
    if any(plain == wanted and not m.get("key") for m, plain in materials):
        return None
    for material, plain in materials:
        if material.get("key") and plain and (plain == wanted or wanted in plain or plain in wanted):
            name = material["name"]
            return name.get("zh") if isinstance(name, dict) else name
    return None


def _key_materials_may_be_missing(county_code) -> bool:
    from core import catalog

    for record in catalog.all_current("rulesets", county=county_code):
        if record.county_code != county_code:
            continue
        rule = (record.content.get("rules") or {}).get("tolerant_acceptance")
        if isinstance(rule, dict) and "key_materials_may_be_missing" in rule:
            return bool(rule["key_materials_may_be_missing"])
    return True


@hookimpl
def case_moved(case, transition, from_state, actor, inputs):
    """容缺受理: refuse a tolerant acceptance whose missing material is a key
    material of the item (raising aborts the transition's transaction)."""
    if "missing_material" not in transition.requires or _key_materials_may_be_missing(case.county_code):
        return
    from core.cases.workflow import TransitionError

    name = key_material(case.item_record.content, (inputs or {}).get("missing_material", ""))
    if name:
        raise TransitionError(_l("Tolerant acceptance may leave out only a non-key material; "
                                 "%(material)s is a key material of this item.", material=name))
