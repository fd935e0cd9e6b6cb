"""Flask-Admin wiring. The back office itself (catalog, sites, staff …) is
built from views that the core and plugins register through
``register_admin_views``; only signed-in administrators reach it."""
from __future__ import annotations

from flask import redirect, request, url_for
from flask_admin import Admin, AdminIndexView, expose
from flask_babel import lazy_gettext as _l
from flask_login import current_user

from .plugins import collect


class SecureIndex(AdminIndexView):
    def is_accessible(self):
        return current_user.is_authenticated and getattr(current_user, "is_admin", False)

    def inaccessible_callback(self, name, **kwargs):
        if not current_user.is_authenticated:
            return redirect(url_for("auth.sign_in", next=request.full_path))
        return self.render("admin_denied.html"), 403

    @expose("/")
    def index(self):
        return self.render("admin_index.html")


def init_app(app, pm):
    admin = Admin(app, name=_l("Bangban back office"), index_view=SecureIndex(url="/admin"))
    app.extensions["bangban"].admin = admin
    for plugin, views, _kw in collect(pm, "register_admin_views", admin=admin):
        for view in views:
            admin.add_view(view)
    return admin
