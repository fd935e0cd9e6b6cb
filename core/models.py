"""The core's tables. Schema changes go through ``core/migrations``.

Every tenant-scoped table carries ``county_code`` (the county's 6-digit
division code) so that a national deployment can shard by county.
Metadata from a pack without a county is national reference data and has an
empty ``county_code``.
"""
from __future__ import annotations

import datetime
import decimal
import json

import peewee

from .db import proxy


def utcnow():
    return datetime.datetime.now(datetime.timezone.utc).replace(tzinfo=None)


def _json_default(value):
    if isinstance(value, (datetime.date, datetime.datetime)):
        return value.isoformat()
    if isinstance(value, decimal.Decimal):
        return str(value)
    raise TypeError(f"cannot store {type(value).__name__} as JSON")


class JSONField(peewee.TextField):
    """JSON stored as text, Chinese kept as text (not ``\\uXXXX``); dates as
    ISO text and decimals as strings."""

    def db_value(self, value):
        if value is None:
            return None
        return json.dumps(value, ensure_ascii=False, sort_keys=True, default=_json_default)

    def python_value(self, value):
        return None if value is None else json.loads(value)


class BaseModel(peewee.Model):
    class Meta:
        database = proxy
        legacy_table_names = False


class TenantMixin:
    """A tenant table's model (core.sharding): a saved or deleted row is
    found by its id and its county, so the UPDATE or DELETE goes to the
    county's shard. Put it before ``BaseModel``."""

    def _pk_expr(self):
        county = self.__data__.get("county_code")
        expr = super()._pk_expr()
        return expr if county is None else expr & (type(self).county_code == county)


class _CountyForeignKeyAccessor(peewee.ForeignKeyAccessor):
    def get_rel_instance(self, instance):
        value, county = instance.__data__.get(self.name), instance.__data__.get("county_code")
        if value is not None and county is not None and self.name not in instance.__rel__ and self.field.lazy_load:
            instance.__rel__[self.name] = self.rel_model.get(
                (self.field.rel_field == value) & (self.rel_model.county_code == county))
        return super().get_rel_instance(instance)  # a row read without its county: by the key alone


class _CountyBackrefAccessor(peewee.BackrefAccessor):
    def __get__(self, instance, instance_type=None):
        if instance is None:
            return self
        query = super().__get__(instance, instance_type)
        county = instance.__data__.get("county_code")
        return query if county is None else query.where(self.rel_model.county_code == county)


class TenantForeignKeyField(peewee.ForeignKeyField):
    """A foreign key from one tenant table to another: the same column,
    and on PostgreSQL a composite key with ``county_code`` (migration 0025).
    Following it either way (``rating.case``, ``case.ratings``) reads the
    row's county only."""

    accessor_class = _CountyForeignKeyAccessor
    backref_accessor_class = _CountyBackrefAccessor


class MetadataSync(BaseModel):
    """One ``metadata sync`` that changed something, with the pack manifests."""

    created_at = peewee.DateTimeField(default=utcnow)
    actor = peewee.CharField()
    packs = JSONField()
    added = peewee.IntegerField(default=0)
    changed = peewee.IntegerField(default=0)
    retired = peewee.IntegerField(default=0)


class MetadataRecord(BaseModel):
    """One version of one metadata entry (an item, a role, a region …)."""

    county_code = peewee.CharField(max_length=6, default="", index=True)
    kind = peewee.CharField(max_length=40)
    key = peewee.CharField(max_length=120)
    version = peewee.IntegerField()
    pack = peewee.CharField(max_length=80)
    content = JSONField()
    content_hash = peewee.CharField(max_length=64)
    current = peewee.BooleanField(default=True, index=True)
    sync = peewee.ForeignKeyField(MetadataSync, backref="records", on_delete="RESTRICT")
    created_at = peewee.DateTimeField(default=utcnow)

    class Meta:
        indexes = ((("county_code", "kind", "key", "version"), True),)


class MetadataFile(BaseModel):
    """What one pack file produced at the last ``metadata sync`` of it: the
    sha256 of its bytes, its size and modification time, and its entries'
    ``[kind, key, index]``, so that the next sync parses only the files
    whose bytes changed (and reads none whose size and time are the same). Valid only while
    no other sync ran since (``sync_mark``: the newest sync id then) and the
    kinds and permissions are the same (``fingerprint``)."""

    county_code = peewee.CharField(max_length=6, default="", index=True)
    pack_dir = peewee.CharField(max_length=500, index=True)
    path = peewee.CharField(max_length=500, unique=True)
    digest = peewee.CharField(max_length=64)
    entries = JSONField()
    fingerprint = peewee.CharField(max_length=64)
    sync_mark = peewee.IntegerField(default=0)
    #: "size:mtime_ns" when the file was read, if it was then older than
    #: ``loader.RACY_NS`` (a file written just before could change again
    #: within the clock's resolution); "" when not trusted
    stat = peewee.CharField(max_length=40, default="")


class ItemSearch(BaseModel):
    """The search keys of one current item version (core.item_search),
    written by ``metadata sync`` for changed items only: folded names in
    every language (Mongolian included), pinyin, department, levels and
    whether it is a high-frequency item."""

    county_code = peewee.CharField(max_length=6, index=True)
    key = peewee.CharField(max_length=120)
    record = peewee.ForeignKeyField(MetadataRecord, on_delete="CASCADE")
    department = peewee.CharField(max_length=40, default="")
    at_county = peewee.BooleanField(default=False)
    at_township = peewee.BooleanField(default=False)
    at_village = peewee.BooleanField(default=False)
    priority = peewee.SmallIntegerField(default=1)  # 0 high-frequency items, 1 the others: listed in this order
    keys = peewee.TextField(default="")  # the folded search keys, one a line (core.item_search.search_row)
    channels = peewee.CharField(max_length=200, default="")  # ",bank,post," the item's intake channels

    class Meta:
        table_name = "item_search"
        indexes = ((("county_code", "key"), True), (("county_code", "priority", "key"), False),
                   (("county_code", "department", "priority", "key"), False))  # a department's items, in list order


class ItemGram(BaseModel):
    """Postings of the item search: every three-character piece of an
    item's search keys, so that a query finds its candidate items without
    reading every item's keys (core.item_search)."""

    county_code = peewee.CharField(max_length=6, index=True)
    gram = peewee.CharField(max_length=12)
    item = peewee.ForeignKeyField(ItemSearch, on_delete="CASCADE")

    class Meta:
        table_name = "item_gram"
        indexes = ((("gram", "county_code", "item"), False),)  # covering: the item from the index (migration 0030)


class ItemPrefix(BaseModel):
    """What a query shorter than a piece finds (the first keys typed into
    the picker): one row per item and short query (a line's first one or
    two characters, one or two Chinese characters anywhere) with the rank
    it gets there and the item's list order, so that a page of the first
    key typed is read from the index in the order it is shown, not sorted
    from the thousands of items one letter finds (core.item_search)."""

    county_code = peewee.CharField(max_length=6)
    prefix = peewee.CharField(max_length=8)
    rank = peewee.SmallIntegerField()  # 1 a name starts with it, 2 the pinyin, 3 a code or Chinese text anywhere
    priority = peewee.SmallIntegerField()
    key = peewee.CharField(max_length=120)
    item = peewee.ForeignKeyField(ItemSearch, on_delete="CASCADE", index=False)  # indexed with the prefix below
    record_id = peewee.IntegerField()  # the item version's metadata_record (as item_search.record_id)
    at_county = peewee.BooleanField(default=False)
    at_township = peewee.BooleanField(default=False)
    at_village = peewee.BooleanField(default=False)

    class Meta:
        table_name = "item_prefix"
        # the order a page is shown in, the level filters and the record: a page and its count from the index
        indexes = ((("prefix", "county_code", "rank", "priority", "key", "record_id", "at_county", "at_township",
                     "at_village"), False),
                   (("item", "prefix"), False))  # a department's items the query does not start; the cascade


class Region(BaseModel):
    code = peewee.CharField(max_length=15, primary_key=True)
    county_code = peewee.CharField(max_length=6, index=True)
    level = peewee.CharField(max_length=10)
    name = JSONField()
    parent = peewee.CharField(max_length=15, null=True, index=True)
    demonstration = peewee.BooleanField(default=False)


class Site(BaseModel):
    code = peewee.CharField(max_length=80, primary_key=True)
    county_code = peewee.CharField(max_length=6, index=True)
    kind = peewee.CharField(max_length=20)
    name = JSONField()
    region = peewee.CharField(max_length=15, index=True)
    standard = peewee.CharField(max_length=80, null=True)
    profile = JSONField(null=True)


class Staff(BaseModel):
    county_code = peewee.CharField(max_length=6, index=True)
    username = peewee.CharField(max_length=80, unique=True)
    name = peewee.CharField(max_length=80)
    role = peewee.CharField(max_length=40)
    region = peewee.CharField(max_length=15)
    department = peewee.CharField(max_length=40, null=True)
    password_hash = peewee.CharField(max_length=200)
    active = peewee.BooleanField(default=True)
    locale = peewee.CharField(max_length=20, null=True)
    created_at = peewee.DateTimeField(default=utcnow)
    password_changed_at = peewee.DateTimeField(default=utcnow)
    totp_secret = peewee.CharField(max_length=200, null=True)  # encrypted at rest
    totp_last_step = peewee.BigIntegerField(null=True)  # a code is accepted once
    phone_enc = peewee.CharField(max_length=200, null=True)
    profile = JSONField(null=True)  # the public staff board: hours on duty, photo, posts (党员先锋岗 …)
    covers = peewee.ForeignKeyField("self", null=True, column_name="covers_id", backref="covered_by",
                                    on_delete="SET NULL")  # B post (AB岗): covers this A staffer's window


class SignInAttempt(BaseModel):
    """Every sign-in attempt, for lockout (the audit log has them too)."""

    username = peewee.CharField(max_length=80, index=True)
    at = peewee.DateTimeField(default=utcnow, index=True)
    ok = peewee.BooleanField()
    ip = peewee.CharField(max_length=64, default="")


class UserSession(BaseModel):
    """A server-side session: sign-out, idle and absolute limits, disabling
    an account end it here, so a replayed cookie is refused."""

    token_hash = peewee.CharField(max_length=64, unique=True)
    staff = peewee.ForeignKeyField(Staff, backref="sessions", on_delete="RESTRICT")
    created_at = peewee.DateTimeField(default=utcnow)
    last_seen = peewee.DateTimeField(default=utcnow)
    ended_at = peewee.DateTimeField(null=True)
    ended_why = peewee.CharField(max_length=20, null=True)
    ip = peewee.CharField(max_length=64, default="")
    user_agent = peewee.CharField(max_length=200, default="")


class AuditEntry(BaseModel):
    """Append-only: the database refuses UPDATE and DELETE (migration 0001)."""

    seq = peewee.BigIntegerField(unique=True)
    created_at = peewee.CharField(max_length=32)
    county_code = peewee.CharField(max_length=6, default="", index=True)
    actor = peewee.CharField(max_length=80)
    role = peewee.CharField(max_length=40)
    action = peewee.CharField(max_length=80)
    entity = peewee.CharField(max_length=200)
    payload = peewee.TextField()
    prev_hash = peewee.CharField(max_length=64)
    mac = peewee.CharField(max_length=64)
    key_epoch = peewee.IntegerField(null=True)  # the audit key's epoch (None: 0); migration 0016


class AuditCheckpoint(BaseModel):
    """The last entry removed by a retention purge: the chain is verified
    from here on. ``seal`` is its HMAC under the audit key and ``purge_seq``
    the ``audit.purge`` entry that vouches for it (migration 0009)."""

    seq = peewee.BigIntegerField(unique=True)
    mac = peewee.CharField(max_length=64)
    created_at = peewee.CharField(max_length=32)
    purge_seq = peewee.BigIntegerField(null=True)  # null: written before 0009
    seal = peewee.CharField(max_length=64, null=True)
    key_epoch = peewee.IntegerField(null=True)  # the epoch of the key that sealed it (None: 0)


class PluginSetting(BaseModel):
    """A value of a setting a plugin declared, at one scope: "" (root), a
    county/township/village code, or ``site:<code>``."""

    plugin = peewee.CharField(max_length=80)
    key = peewee.CharField(max_length=80)
    scope = peewee.CharField(max_length=80, default="")
    county_code = peewee.CharField(max_length=6, default="", index=True)
    value = JSONField()
    updated_at = peewee.DateTimeField(default=utcnow)

    class Meta:
        indexes = ((("plugin", "key", "scope"), True),)


class Holiday(BaseModel):
    """A day that differs from the plain week: an official holiday, or a
    make-up workday (调休) on a weekend. Seeded from the ``holidays`` package
    and editable by admins; ``confirmed`` is False for estimated years."""

    day = peewee.DateField(unique=True)
    kind = peewee.CharField(max_length=10)  # "holiday" | "workday"
    name = peewee.CharField(max_length=80, default="")
    confirmed = peewee.BooleanField(default=True)
    source = peewee.CharField(max_length=20, default="package")  # "package" | "admin"
    updated_at = peewee.DateTimeField(default=utcnow)


MODELS = [MetadataSync, MetadataRecord, MetadataFile, Region, Site, Staff, SignInAttempt, UserSession, AuditEntry, Holiday]


def current_metadata(kind, county_code=None):
    """Current records of a kind (optionally of one county plus national)."""
    query = MetadataRecord.select().where((MetadataRecord.kind == kind) & MetadataRecord.current)
    if county_code is not None:
        query = query.where(MetadataRecord.county_code.in_(["", county_code]))
    return query.order_by(MetadataRecord.key)
