"""博山区 (Boshan District, Zibo, 370304): the region's catalog, towns and
subdistricts, the "六有一能" station standard, the partner points and the
2020 rule set (博政办字〔2020〕39号), all as metadata.

Code only for what data cannot say: items that offer home visits ask, on the
commission form, whether the applicant wants one and to which of the groups
the rule set reserves it for (居住偏远、分散的群众和老弱病残等特殊群体,
二(四)11) the applicant belongs.
"""
from flask_babel import force_locale, gettext

from core.hookspecs import hookimpl
from core.paths import METADATA

COUNTY = "370304"
HOME_VISIT = "home_visit"
_LOCALES = {"zh": "zh_Hans_CN", "mn": "mn_Mong_CN", "en": "en"}


@hookimpl
def register_metadata_packs(register):
    register(METADATA / "boshan")


@hookimpl
def register_demo_packs(register):
    register(METADATA / "boshan_demo", county=COUNTY)


def _group_labels():
    return {
        "remote": gettext("Lives far away"),
        "scattered": gettext("Lives in a scattered hamlet"),
        "elderly": gettext("Elderly person"),
        "frail": gettext("Frail person"),
        "ill": gettext("Ill person"),
        "disabled": gettext("Disabled person"),
    }


def home_visit_groups(county_code=COUNTY):
    """The groups the county's rule set reserves free home visits for
    (``rules.service_modes.home_visit.groups``)."""
    from core import catalog

    for record in catalog.all_current("rulesets", county=county_code):
        if record.county_code == county_code:
            groups = (((record.content.get("rules") or {}).get("service_modes") or {}).get(HOME_VISIT) or {})
            if groups.get("groups"):
                return list(groups["groups"])
    return []


def _home_visit_fields(groups):
    labels = _group_labels()
    return [
        {"name": "home_visit", "type": "yes_no", "label": gettext("Free home visit requested"),
         "required": False, "options": [], "show_if": None, "required_if": None,
         "help": gettext("Free for people who live far away or scattered and for the elderly, frail, ill "
                         "and disabled, on their request.")},
        {"name": "home_visit_group", "type": "choice", "label": gettext("Reason for the home visit"),
         "required": False, "options": [{"value": g, "label": labels.get(g, g)} for g in groups],
         "show_if": "home_visit == true", "required_if": "home_visit == true", "help": None},
    ]


@hookimpl
def prepare_form_spec(spec, item, county_code, locale):
    """Add the home-visit questions to the item section of Boshan's items
    that list the ``home_visit`` channel (and to no other county's)."""
    if county_code != COUNTY or HOME_VISIT not in (item.get("channels") or ()):
        return
    section = next((s for s in spec.get("sections", ()) if s.get("key") == "item"), None)
    if section is None:
        return
    taken = {f["name"] for s in spec["sections"] for f in s.get("fields", ())}
    if taken & {"home_visit", "home_visit_group"}:
        return  # the item defines its own
    groups = home_visit_groups(county_code)
    if not groups:
        return
    with force_locale(_LOCALES.get(str(locale).split("_")[0], locale)):
        section["fields"].extend(_home_visit_fields(groups))
