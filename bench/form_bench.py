"""The signed-in commission-form page, cold and warm, vs. a hand-written page.

``GET /cases/new/<item>`` for a signed-in grid worker, through the Flask test
client, against ``GET /-/bench/hand/<item>``: a route written by hand for
this one item (sign-in required, the same permission check, the user's
divisions read with one scoped query) rendering a hand-written template that
extends the same layout and spells the same fields out literally.  Both
pages print byte-for-byte the same HTML (checked), are requested by the same
signed-in client in the same process, interleaved.

* cold: before every request of the generated page the catalog cache and the
  form cache are emptied, as after ``metadata sync``, an admin edit or a
  restart (compiled Jinja templates stay, for both sides alike);
* warm: the caches kept.

Goals (issue 13): <= 1.3x cold, <= 1.1x warm, on SQLite and PostgreSQL.
"""
from __future__ import annotations

import re
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bench.report import fresh_pg, interleaved, pg_url, ratio_row, at_most  # noqa: E402

ITEM = "150626-ybj-003"
USER = "taoli.grid"
PASSWORD = "Bangban@2026"


def _hand_source(page_html, values):
    """The hand-written template: the layout's content block spelled out
    literally (as the generated page prints it), with the CSRF token, the
    division options and the field values left to fill in."""
    content = page_html[page_html.index("\n<h1>"):page_html.index("\n</main>")]
    title = re.search(r"<title>(.*) · [^·]*</title>", page_html).group(1)
    token = re.search(r'name="csrf_token" value="([^"]+)"', content).group(1)
    content = content.replace(token, "{{ csrf_token() }}")
    # the division select: a loop over the divisions the route reads
    sel = re.search(r'(<select id="f-applicant_division"[^>]*>\s*<option value="">[^<]*</option>)(.*?)(\s*</select>)',
                    content, re.S)
    if sel:
        loop = ('{% for code, name in divisions %}<option value="{{ code }}"'
                '{% if code == values.get("applicant_division") %} selected{% endif %}>{{ name }}</option>'
                '{% endfor %}')
        content = content[:sel.start(2)] + loop + content[sel.end(2):]
    for name in re.findall(r'<input [^>]*name="([^"]+)" value=""', content):
        content = content.replace(f'name="{name}" value=""', f'name="{name}" value="{{{{ values.get("{name}", "") }}}}"')
    assert "{#" not in content
    return ('{% extends "base.html" %}{% block title %}' + title + '{% endblock %}'
            '{% block content %}' + content + '{% endblock %}')


def _add_hand_route(app):
    from flask import render_template
    from flask_login import current_user, login_required

    from core import scope
    from core.models import Region
    from core.permissions import require

    holder = {}

    @app.get("/-/bench/hand/<code>")
    @login_required
    def bench_hand(code):
        require("case.create")
        user = current_user
        query = scope.scoped(user, Region.select(Region.code, Region.name), Region).where(
            Region.level.in_(["township", "village", "group"])).order_by(Region.code)
        names = {r.code: r.name for r in Region.select(Region.code, Region.name).where(
            Region.county_code == user.county_code)}
        divisions = []
        for r in query:
            parts = [names[r.code[:n]] for n in (9, 12) if n < len(r.code) and r.code[:n] in names]
            divisions.append((r.code, " · ".join(_zh(p) for p in [*parts, r.name])))
        values = {"applicant_division": user.region} if len(user.region or "") >= 12 else {}
        return render_template(holder["template"], values=values, errors={}, divisions=divisions)

    return holder


def _zh(name):
    return name.get("zh", "") if isinstance(name, dict) else str(name)


def _sign_in(client):
    html = client.get("/sign-in").get_data(as_text=True)
    token = re.search(r'name="csrf_token" value="([^"]+)"', html).group(1)
    response = client.post("/sign-in", data={"username": USER, "password": PASSWORD, "csrf_token": token})
    assert response.status_code == 302, response.status_code


def measure(database_url, tmp, repeat, number):
    from core import create_app
    from core.demo import load_demo

    app = create_app(data_dir=str(tmp), database_url=database_url, plugins="wushen,bank_partnership",
                     secret_key="bench")
    app.config["WTF_CSRF_ENABLED"] = True
    with app.app_context():
        load_demo(app.extensions["bangban"].pm, PASSWORD)
    holder = _add_hand_route(app)
    state = app.extensions["bangban"]

    def empty_caches():
        state.cache.clear()

    client = app.test_client()
    _sign_in(client)
    url, hand_url = f"/cases/new/{ITEM}?lang=zh_Hans_CN", f"/-/bench/hand/{ITEM}?lang=zh_Hans_CN"
    page = client.get(url)
    assert page.status_code == 200, page.status_code
    html = page.get_data(as_text=True)
    holder["template"] = app.jinja_env.from_string(_hand_source(html, {}))
    hand = client.get(hand_url).get_data(as_text=True)
    def untimed(page):  # a CSRF token carries the second it was signed in
        return re.sub(r'name="csrf_token" value="[^"]+"', 'name="csrf_token" value="-"', page)

    hand, html = untimed(hand), untimed(html)
    if hand != html:
        import difflib

        diff = "\n".join(list(difflib.unified_diff(html.splitlines(), hand.splitlines(), lineterm=""))[:40])
        raise AssertionError(f"the hand-written page must print the same HTML as the generated one:\n{diff}")
    assert len(re.findall(r'data-field="', html)) >= 10

    def real():
        response = client.get(url)
        assert response.status_code == 200

    def cold():
        empty_caches()
        real()

    def baseline():
        assert client.get(hand_url).status_code == 200

    def times(fn):
        return lambda: [fn() for _ in range(number)]

    empty_caches()
    t_hand, t_cold, t_hand2, t_warm = interleaved([times(baseline), times(cold), times(baseline), times(real)],
                                                  repeat)
    if state.audit.pending is not None:  # the sign-in's audit anchor, due after the folder is gone
        state.audit.pending.cancel()
    database = state.db
    if hasattr(database, "close_all"):
        database.close_all()
    return (t_hand / number, t_cold / number, t_hand2 / number, t_warm / number)


def run(ctx):
    rows = []
    repeat = ctx.repeat if ctx.quick else max(ctx.repeat, 7)
    number = 2 if ctx.quick else 20
    for db in ctx.dbs:
        with tempfile.TemporaryDirectory(dir=ctx.tmp) as tmp:
            if db == "postgresql":
                url = pg_url("form")
                fresh_pg(url)
            else:
                url = f"sqlite:///{Path(tmp) / 'form.db'}"
            t_hand, t_cold, t_hand2, t_warm = measure(url, Path(tmp), repeat, number)
        rows.append(ratio_row("commission-form page, cold, vs hand-written page", db, t_cold, t_hand,
                              "<= 1.3x", at_most(1.3)))
        rows.append(ratio_row("commission-form page, warm, vs hand-written page", db, t_warm, t_hand2,
                              "<= 1.1x", at_most(1.1)))
    return rows


if __name__ == "__main__":
    from bench.report import Context, print_rows

    with tempfile.TemporaryDirectory() as tmp:
        print_rows(run(Context(tmp=Path(tmp), dbs=sys.argv[1:] or ["sqlite"], scales=[], repeat=5,
                               quick=True)))
