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


def green_channel_cases(cases, period=None, scope=None):
    """Cases filed through the green channel (a count)."""
    from ..cases.models import Case

    return cases.where(Case.green_channel.is_null(False)).count(), None


@hookimpl
def register_metrics(register):
    register("green_channel_cases", label=_l("Green channel cases"), compute=green_channel_cases, unit="count")


@hookimpl
def menu_links(request):
    from flask import url_for
    from flask_babel import gettext as _
    from flask_login import current_user

    from ..permissions import can

    links = [{"href": url_for("hall.directory"), "label": _("Service sites")}]
    if can(current_user, "appointment.manage") or can(current_user, "home_visit.handle"):
        links.append({"href": url_for("work.work_list"), "label": _("Work list")})
    return links
