"""The public service hall: site directory, booking, home-visit requests,
the staff work list; and the green channel's metric."""
from __future__ import annotations

from flask_babel import lazy_gettext as _l

from ..hookspecs import hookimpl


@hookimpl
def register_blueprints(register):
    from ..hall.views import bp, work_bp

    register(bp)
    register(work_bp)


def in_green_channel():
    """A case filed through the green channel (the condition of the count:
    the KPI report counts it in its one grouped scan, the covering index of
    migration 0026 holds the column)."""
    from ..cases.models import Case

    return Case.green_channel.is_null(False)


def green_channel_cases(cases, period=None, scope=None):
    """Cases filed through the green channel (a count)."""
    return cases.where(in_green_channel()).count(), None


@hookimpl
def register_metrics(register):
    register("green_channel_cases", label=_l("Green channel cases"), numerator=in_green_channel,
             compute=green_channel_cases, unit="count")


@hookimpl
def menu_links(request):
    from flask import has_request_context, url_for
    from flask_babel import lazy_gettext as _l

    if not has_request_context():
        return None
    # the workbench (/work) is the menu's first link, in base.html
    return [{"href": url_for("hall.directory"), "label": str(_l("Service sites"))}]


@hookimpl
def prepare_form_spec(spec, item, county_code, locale):
    """The green channel (绿色通道) question in every commission form's
    applicant section: the special group the applicant belongs to, if any
    (the county's ``special_groups`` metadata). The case keeps the answer
    in its ``green_channel`` column (core.cases.service.create_case)."""
    from flask_babel import force_locale, gettext

    from .. import catalog
    from ..i18n import localized

    section = next((s for s in spec.get("sections", ()) if s.get("key") == "applicant"), None)
    taken = {f["name"] for s in spec.get("sections", ()) for f in s.get("fields", ())}
    groups = [r.content for r in catalog.all_current("special_groups", county=county_code)]
    if section is None or not groups or "green_channel" in taken:
        return
    with force_locale({"zh": "zh_Hans_CN", "mn": "mn_Mong_CN", "en": "en"}.get(str(locale).split("_")[0], locale)):
        section["fields"].append({
            "name": "green_channel", "type": "choice", "label": gettext("Green channel (special group)"),
            "required": False, "show_if": None, "required_if": None,
            "options": [{"value": g["code"], "label": localized(g["name"], locale)} for g in groups],
            "help": gettext("Aged 80 or over, disabled, seriously ill or pregnant: served first on every work list.")})


@hookimpl
def demo_cases_loaded(county):
    from ..hall.demo import load_demo_appointments

    load_demo_appointments(county)
