"""Rendering a commission form, memoized.

The theme macro ``forms/macros.html: render_form`` is the one source of the
markup (a deployer restyles forms by overriding it). It is a pure function
of the spec, the values, the errors, the hidden fields, the division list
and the language, so an item version's form is rendered through the macros
once per distinct input and kept; the per-session CSRF token is put in
afterwards. Re-renders with errors are never cached (they are rare and
carry user input). The kept forms go with the catalog's cache
(core.catalog.cached): a sync or an admin edit empties them, so a form
never outlives a change of what it shows (the county's special groups, the
guide fields, a plugin's additions), even where the item version's key is
the same.
"""
from __future__ import annotations

import threading
from collections import OrderedDict

from flask import current_app

TOKEN = "\x00csrf\x00"
_lock = threading.Lock()


class FormCache:
    def __init__(self, size=256):
        self.size = size
        self.entries = OrderedDict()

    def get(self, key):
        with _lock:
            html = self.entries.get(key)
            if html is not None:
                self.entries.move_to_end(key)
            return html

    def put(self, key, html):
        with _lock:
            self.entries[key] = html
            if len(self.entries) > self.size:
                self.entries.popitem(last=False)


def _freeze(values):
    if not values:
        return ()
    items = values.items(multi=True) if hasattr(values, "getlist") else values.items()
    return tuple(sorted((k, str(v)) for k, v in items))


def render_form(spec, values, errors, csrf_token, *, cache_key=None, hidden=None, divisions=None):
    """HTML of the form. ``cache_key`` identifies the (immutable) spec, e.g.
    the item version's record id and the language; None disables caching."""
    env = current_app.jinja_env
    macro = env.get_template("forms/macros.html").module.render_form

    def render(token):
        return macro(spec, values, errors, token, hidden, divisions)  # Markup: autoescaped by Jinja

    if cache_key is None or errors:
        return render(csrf_token)
    from .. import catalog

    cache = catalog.cached("form_html", None, FormCache)
    key = (cache_key, _freeze(values), tuple(sorted(hidden or ())),
           tuple(divisions.items()) if isinstance(divisions, dict) else tuple(divisions or ()))
    html = cache.get(key)
    if html is None:
        html = render(TOKEN)
        cache.put(key, html)
    return html.replace(TOKEN, csrf_token)  # Markup.replace escapes the token
