"""Sign-in and staff accounts."""
from __future__ import annotations

from ..hookspecs import hookimpl


@hookimpl
def register_blueprints(register):
    from ..auth import bp

    register(bp)


@hookimpl
def register_admin_views(register):
    from flask_babel import lazy_gettext as _l

    from ..admin_views.models import StaffView
    from ..models import Staff

    register(StaffView(Staff, name=_l("Staff"), category=_l("Staff"), endpoint="staff_admin"))
