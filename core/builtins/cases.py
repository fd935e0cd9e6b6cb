"""Case work: the commission form and case pages, public tracking, and the
holiday calendar the deadlines are counted in."""
from __future__ import annotations

from ..hookspecs import hookimpl


@hookimpl
def register_blueprints(register):
    from ..cases.track import bp as track_bp
    from ..cases.views import bp as cases_bp

    register(cases_bp)
    register(track_bp)


@hookimpl
def register_admin_views(register):
    from flask_babel import lazy_gettext as _l

    from ..admin_views.models import HolidayView
    from ..models import Holiday

    register(HolidayView(Holiday, name=_l("Holiday calendar"), category=_l("Settings"), endpoint="holiday_admin"))
