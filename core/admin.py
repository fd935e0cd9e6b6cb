"""Flask-Admin wiring. The back office itself (catalog, sites, staff …) is
built from views that the core and plugins register through
``register_admin_views``; only signed-in administrators reach it."""
from __future__ import annotations

from flask import redirect, render_template, request, url_for
from flask_admin import Admin, AdminIndexView, expose
from flask_babel import lazy_gettext as _l
from flask_login import current_user

from .i18n import catalog_dir
from .plugins import collect


def _is_admin():
    return current_user.is_authenticated and getattr(current_user, "is_admin", False)


def _denied(view):
    if not current_user.is_authenticated:
        return redirect(url_for("auth.sign_in", next=request.full_path))
    return render_template("admin_denied.html"), 403


class BangbanAdmin(Admin):
    """Flask-Admin reads its words from its own catalogs and one directory
    more: here the one holding the current language's ``admin`` catalog
    (a plugin's, e.g. Mongolian, which Flask-Admin does not ship)."""

    translations_path = property(lambda self: catalog_dir("admin"), lambda self, value: None)


class SecureIndex(AdminIndexView):
    def is_accessible(self):
        return _is_admin()

    def inaccessible_callback(self, name, **kwargs):
        return _denied(self)

    @expose("/")
    def index(self):
        return self.render("admin_index.html")


def secure(view):
    """Every view in the back office, a plugin's included, is for signed-in
    administrators only, on top of whatever the view itself checks."""
    own = view.is_accessible
    view.is_accessible = lambda: _is_admin() and own()
    view.inaccessible_callback = lambda name, **kw: _denied(view)
    return view


def init_app(app, pm):
    from .hardening import csp_nonce

    from flask_admin.theme import Bootstrap4Theme

    # the page's language on every back-office page: lang, writing mode, font, switcher
    admin = BangbanAdmin(app, name=_l("Bangban back office"), index_view=SecureIndex(url="/admin", name=_l("Home")),
                         csp_nonce_generator=csp_nonce, theme=Bootstrap4Theme(base_template="admin/bangban_base.html"))
    app.extensions["bangban"].admin = admin
    for plugin, views, _kw in collect(pm, "register_admin_views", admin=admin):
        for view in views:
            admin.add_view(secure(view))
    return admin
