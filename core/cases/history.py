"""A past year of cases, generated in bulk: the demo's history (so that a
county's dashboard has numbers behind its targets), the KPI tests' data
(computed by hand from the rows this returns) and the KPI benchmark (up to
1,000,000 cases).

Rows are written with multi-row INSERTs in batches, not through the
workflow (no events, no audit entries: they stand for cases migrated from
the county's former ledger). Their personal data is a handful of encrypted
demo identities, reused.
"""
from __future__ import annotations

import datetime
import random

import peewee

from ..db import transaction
from ..models import MetadataRecord, Site, Staff
from .models import Case

#: channel weights at a site, by the site's kind (the rest of a kind: window)
CHANNELS = {
    "service_center": (("comprehensive_window", 70), ("window", 12), ("online", 10), ("mobile", 5),
                       ("home_visit", 3)),
    "service_station": (("window", 70), ("home_visit", 12), ("mobile", 10), ("online", 8)),
    "service_point": (("window", 85), ("home_visit", 15)),
}
RATINGS = ((5, 60), (4, 25), (3, 8), (2, 4), (1, 3))


def _pick(rng, weighted):
    total = sum(w for _c, w in weighted)
    n = rng.uniform(0, total)
    for code, weight in weighted:
        n -= weight
        if n <= 0:
            return code
    return weighted[-1][0]


def _identities(county):
    from .. import personal
    from .demo import PEOPLE, id_number

    out = []
    for n, (name, birth) in enumerate(PEOPLE[:5]):
        number = id_number(county, birth, 500 + n)
        phone = f"1394770{n:04d}"
        out.append({"applicant_name": name,
                    "applicant_id_number": personal.encrypt(number, "cases.applicant_id_number"),
                    "applicant_phone": personal.encrypt(phone, "cases.applicant_phone"),
                    "applicant_id_hash": personal.id_hash(number), "applicant_phone_hash": personal.phone_hash(phone),
                    "applicant_id_masked": personal.mask_id_number(number),
                    "applicant_phone_masked": personal.mask_phone(phone)})
    return out


def _channel_table():
    """:data:`CHANNELS`, and for every other site kind the registered
    channels naming it (a bank branch: ``bank``)."""
    from .. import registry

    table = dict(CHANNELS)
    for channel in registry.intake_channels().values():
        for kind in channel["site_kinds"]:
            if kind not in CHANNELS:
                table[kind] = (*table.get(kind, ()), (channel["code"], 1))
    return table


def generate(county, count, *, end=None, days=365, seed=0, batch=None, tag="H", keep=True):
    """Write ``count`` cases of ``county`` filed over the ``days`` up to
    ``end`` (default today) at the county's sites, and return their rows
    (dicts of the written columns, for hand computations; ``keep=False``:
    just their number)."""
    from . import workflow as wf
    from .. import catalog

    rng = random.Random(seed)
    end = end or datetime.date.today()
    sites = list(Site.select().where(Site.county_code == county).order_by(Site.code))
    table = _channel_table()
    items = [r for r in catalog.all_current("items", county=county) if r.county_code == county]
    owner = (Staff.select().where(Staff.county_code == county).order_by(Staff.id).first())
    if not sites or not items or owner is None:
        return [] if keep else 0
    flows = {r.id: wf.for_item(r.content).code for r in items}
    people = _identities(county)
    rows, written, n_written = [], [], 0
    size = batch or (400 if Case._meta.database.__class__.__name__.startswith("Sqlite") else 2000)
    start = datetime.datetime.combine(end - datetime.timedelta(days=days - 1), datetime.time(8))
    span = days * 86400 - 10 * 3600
    for i in range(count):
        site = sites[rng.randrange(len(sites))]
        item = items[rng.randrange(len(items))]
        created = start + datetime.timedelta(seconds=rng.randrange(span))
        day = created.date()
        channel = _pick(rng, table.get(site.kind) or (("window", 1),))
        kind = item.content.get("kind", "promised")
        row = {"county_code": county, "number": f"{county}-{tag}{seed:x}-{i:07d}",
               "track_token": f"{tag}{seed:x}t{i:07d}",
               "item_code": item.key, "item_record": item.id, "item_version": item.version, "kind": kind,
               "workflow": flows[item.id], "state": "applied", "township_code": site.region[:9],
               "village_code": site.region[:12] if len(site.region) >= 12 else None, "group_code": None,
               "site_code": site.code, "intake_channel": channel, "owner": owner.id, "data": {},
               "pauses": [], "created_at": created, "updated_at": created, "accepted_on": None, "due_day": None,
               "finished_on": None, "rating": None, "due_confirmed": True, "extended_days": 0.0,
               **people[i % len(people)]}
        luck = rng.random()
        if luck < 0.04:
            row["state"] = "declined"
        elif luck < 0.96:
            accepted = day + datetime.timedelta(days=rng.choice((0, 0, 0, 1)))
            if accepted <= end:
                promised = 0 if kind == "instant" else rng.choice((3, 5, 7, 10))
                row.update(state="accepted", accepted_on=accepted, due_day=accepted + datetime.timedelta(days=promised))
                took = 0 if kind == "instant" and rng.random() < 0.95 else rng.choice(
                    (promised - 2, promised - 1, promised, promised, promised + 2)) if promised else 1
                finished = accepted + datetime.timedelta(days=max(took, 0))
                if finished <= end and rng.random() < 0.92:
                    row.update(state="archived", finished_on=finished)
                    if rng.random() < 0.75:
                        row.update(state="evaluated", rating=_pick(rng, RATINGS))
        rows.append(row)
        if len(rows) >= size:
            _write(rows)
            n_written += len(rows)
            if keep:
                written.extend(rows)
            rows = []
    if rows:
        _write(rows)
        n_written += len(rows)
        if keep:
            written.extend(rows)
    return written if keep else n_written


def _write(rows):
    """One batch: the INSERT peewee writes for one row, executed for all
    (``executemany``; PostgreSQL: multi-row VALUES pages), the values
    converted by each field's own ``db_value``."""
    from ..models import JSONField

    database = Case._meta.database
    fields = [Case._meta.fields[name] for name in rows[0]]
    # the generator writes str, int, date and datetime values the drivers
    # take as they are; only JSON needs the field's conversion
    convert = [field.db_value if isinstance(field, JSONField) else None for field in fields]
    names = [field.name for field in fields]
    values = [tuple(row[name] if conv is None else conv(row[name]) for name, conv in zip(names, convert))
              for row in rows]
    sql, params = Case.insert_many([values[0]], fields=fields).returning().sql()
    assert len(params) == len(fields), "every column with a default must be in the rows"
    with transaction():
        cursor = database.cursor()
        if isinstance(database, peewee.PostgresqlDatabase):
            from psycopg2.extras import execute_values

            head, _sep, _one_row = sql.rpartition(" VALUES ")
            execute_values(cursor, head + " VALUES %s", values, page_size=len(values))
        else:
            cursor.executemany(sql, values)
