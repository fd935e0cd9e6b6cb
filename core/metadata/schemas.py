"""marshmallow schemas for every kind of metadata.

A pack's YAML files hold top-level keys named after kinds (``items:``,
``roles:`` …), each a list of entries. The schemas validate entries as
written; what is stored and exported is the entry itself (sparse: defaults
are applied where the data is used, not written back).
"""
from __future__ import annotations

import re

from marshmallow import Schema, ValidationError, fields, validate, validates_schema

LANGS = ("zh", "mn", "en")
LEVELS = ("county", "township", "village", "group")
ITEM_LEVELS = ("county", "township", "village")
ITEM_KINDS = ("instant", "promised", "major")
ITEM_TYPES = (
    "licensing",  # 行政许可
    "payment",  # 行政给付
    "confirmation",  # 行政确认
    "reward",  # 行政奖励
    "adjudication",  # 行政裁决
    "other_power",  # 其他行政权力
    "public_service",  # 公共服务
)
#: where an item may be applied for (the intake channels of the glossary,
#: plus the older names kept for existing packs)
CHANNELS = ("window", "comprehensive_window", "online", "mobile", "bank", "post", "phone", "home_visit",
            "self_service", "door_to_door", "mail")
MATERIAL_FORMS = ("original", "copy", "original_and_copy", "electronic")
SITE_KINDS = ("service_center", "service_station", "service_point", "bank_branch", "post_office", "window")
WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
TIME = validate.Regexp(r"^([01][0-9]|2[0-3]):[0-5][0-9]$", error="a time is HH:MM")
FIELD_TYPES = (
    "text", "long_text", "integer", "decimal", "date", "choice", "multi_choice",
    "yes_no", "id_number", "mobile", "division", "file",
)
CODE = validate.Regexp(r"^[A-Za-z0-9][A-Za-z0-9_.\-]*$", error="must be letters, digits, '_', '.' or '-'")
DIVISION = validate.Regexp(r"^\d{6}(\d{3}(\d{3}(\d{3})?)?)?$", error="must be a 6, 9, 12 or 15 digit division code")


def _regex(pattern):
    try:
        re.compile(pattern)
    except re.error as exc:
        raise ValidationError(f"not a valid regular expression: {exc}") from None


class Text(fields.Field):
    """Text given once (taken as Chinese) or per language: ``{zh, mn, en}``."""

    default_error_messages = {
        "invalid": "must be text or a mapping of languages (zh, mn, en) to text",
        "no_zh": "a Chinese (zh) text is required",
        "unknown_lang": "unknown language {lang!r}; use zh, mn or en",
    }

    def _deserialize(self, value, attr, data, **kwargs):
        if isinstance(value, str):
            if not value.strip():
                raise ValidationError("must not be empty")
            return value
        if isinstance(value, dict):
            for lang, text in value.items():
                if lang not in LANGS:
                    raise self.make_error("unknown_lang", lang=lang)
                if not isinstance(text, str):
                    raise self.make_error("invalid")
            if not str(value.get("zh", "")).strip():
                raise self.make_error("no_zh")
            return value
        raise self.make_error("invalid")


class Days(fields.Float):
    """Working days; whole or half days (0.5 steps)."""

    def _validated(self, value):
        number = super()._validated(value)
        if number is not None and (number < 0 or (number * 2) != int(number * 2)):
            raise ValidationError("must be a non-negative number of whole or half days")
        return number


def codes(**kw):
    return fields.List(fields.String(validate=CODE), **kw)


class Strict(Schema):
    class Meta:
        ordered = True


class MaterialSchema(Strict):
    name = Text(required=True)
    form = fields.String(required=True, validate=validate.OneOf(MATERIAL_FORMS))
    count = fields.Integer(validate=validate.Range(min=1))
    key = fields.Boolean()
    fill_instructions = Text()
    sample = Text()
    note = Text()


class FieldSchema(Strict):
    """One field of an item's own form (issue: generated forms)."""

    name = fields.String(required=True, validate=validate.Regexp(r"^[a-z][a-z0-9_]*$"))
    type = fields.String(required=True, validate=validate.OneOf(FIELD_TYPES))
    label = Text(required=True)
    required = fields.Boolean()
    options = fields.List(fields.Raw())
    show_if = fields.String()
    required_if = fields.String()
    help = Text()
    pattern = fields.String(validate=_regex)  # a regular expression a text answer must match in full
    max_length = fields.Integer(validate=validate.Range(min=1, max=2000))

    @validates_schema
    def _text_only(self, data, **kwargs):
        for key in ("pattern", "max_length"):
            if key in data and data.get("type") not in ("text", "long_text"):
                raise ValidationError("applies to text and long_text fields only", key)


class ItemSchema(Strict):
    code = fields.String(required=True, validate=CODE)
    name = Text(required=True)
    type = fields.String(required=True, validate=validate.OneOf(ITEM_TYPES))
    legal_basis = Text()
    levels = fields.List(fields.String(validate=validate.OneOf(ITEM_LEVELS)), required=True,
                         validate=validate.Length(min=1))
    department = fields.String(required=True, validate=CODE)
    joint_departments = codes()
    conditions = Text()
    materials = fields.List(fields.Nested(MaterialSchema))
    fields_ = fields.List(fields.Nested(FieldSchema), data_key="fields")
    promised_days = Days(required=True)
    legal_days = Days()
    fee = Text()
    kind = fields.String(required=True, validate=validate.OneOf(ITEM_KINDS))
    channels = fields.List(fields.String(validate=validate.OneOf(CHANNELS)))
    online = fields.Boolean()
    high_frequency = fields.Boolean()
    delegated = fields.Boolean()
    result = Text()
    phone = fields.String()
    location = Text()
    hours = Text()
    roles = codes()
    workflow = fields.String(validate=CODE)
    category = Text()
    keywords = fields.List(fields.String())

    @validates_schema
    def _days(self, data, **kwargs):
        promised, legal = data.get("promised_days"), data.get("legal_days")
        if promised is not None and legal is not None and promised > legal:
            raise ValidationError("must not exceed legal_days", "promised_days")
        if data.get("kind") == "major" and not data.get("joint_departments"):
            raise ValidationError("a major item names its joint_departments", "joint_departments")


class DepartmentSchema(Strict):
    code = fields.String(required=True, validate=CODE)
    name = Text(required=True)
    phone = fields.String()


class GuideElementSchema(Strict):
    element = fields.String(required=True)
    label = Text()


class ApplicantFieldSchema(FieldSchema):
    pass


class GuideFieldSchema(Strict):
    """Which elements a region's guides show, in order, and the applicant
    part of every commission form."""

    code = fields.String(required=True, validate=CODE)
    name = Text(required=True)
    elements = fields.List(fields.Nested(GuideElementSchema), required=True)
    applicant_fields = fields.List(fields.Nested(ApplicantFieldSchema))

    @validates_schema
    def _known_elements(self, data, **kwargs):
        known = set(ItemSchema().fields) - {"fields_"}
        for i, el in enumerate(data.get("elements", [])):
            if el["element"] not in known:
                raise ValidationError({i: {"element": [f"unknown item element {el['element']!r}"]}}, "elements")


class RoleSchema(Strict):
    code = fields.String(required=True, validate=CODE)
    name = Text(required=True)
    duties = fields.List(Text())
    scope = fields.String(validate=validate.OneOf(LEVELS + ("department", "own")))
    administrator = fields.String(validate=validate.OneOf(("county", "system", "security", "audit")))
    permissions = fields.List(fields.String())


class RequirementSchema(Strict):
    """One criterion of a site standard. With ``measure`` (a compliance
    criterion registered by the core or a plugin) it is computed from the
    site's data; without, the site answers it with evidence that the county
    reviews."""

    code = fields.String(required=True, validate=CODE)
    name = Text(required=True)
    min = fields.Float()
    unit = fields.String()
    measure = fields.String(validate=CODE)
    category = Text()  # a heading of the standard (场所, 人员, 制度 …)
    items = fields.List(Text())  # e.g. the equipment a site must have
    role = fields.String(validate=CODE)  # for a staffing criterion


class StaffingSchema(Strict):
    role = fields.String(required=True, validate=CODE)
    min = fields.Integer(required=True, validate=validate.Range(min=0))


class SiteStandardSchema(Strict):
    code = fields.String(required=True, validate=CODE)
    name = Text(required=True)
    applies_to = fields.String(required=True, validate=validate.OneOf(SITE_KINDS))
    min_area = fields.Float()
    requirements = fields.List(fields.Nested(RequirementSchema))
    staffing = fields.List(fields.Nested(StaffingSchema))


class TargetSchema(Strict):
    metric = fields.String(required=True, validate=CODE)
    level = fields.String(validate=validate.OneOf(LEVELS))
    min = fields.Float()
    due = fields.Date()
    note = Text()


class StaffingRuleSchema(Strict):
    """One staffing requirement of a region (evaluated by the staffing
    check it names, see ``register_staffing_checks``): ``roles`` any of
    which counts, ``min`` people, where (``site_kind`` or ``level``), the
    staff board ``fields`` that must be complete."""

    check = fields.String(required=True, validate=CODE)
    roles = fields.List(fields.String(validate=CODE))
    min = fields.Integer(validate=validate.Range(min=0))
    site_kind = fields.String(validate=CODE)
    level = fields.String(validate=validate.OneOf(LEVELS))
    fields_ = fields.List(fields.String(validate=validate.OneOf(("photo", "phone", "hours"))), data_key="fields")
    note = Text()


class AssessmentRuleSchema(Strict):
    """The staff assessment (考核) of a region: which roles are assessed,
    each indicator's weight, and the 优胜劣汰 rule (the lowest
    ``bottom_n``, or ``bottom_share`` of those ranked, are flagged)."""

    roles = fields.List(fields.String(validate=CODE))
    weights = fields.Dict(keys=fields.String(validate=CODE), values=fields.Float(), required=True,
                          validate=validate.Length(min=1))
    bottom_share = fields.Float(validate=validate.Range(min=0, max=1))
    bottom_n = fields.Integer(validate=validate.Range(min=0))
    min_cases = fields.Integer(validate=validate.Range(min=0))
    note = Text()

    @validates_schema
    def _one_bottom_rule(self, data, **kwargs):
        if "bottom_share" in data and "bottom_n" in data:
            raise ValidationError("give bottom_share or bottom_n, not both", "bottom_n")


class RulesetSchema(Strict):
    code = fields.String(required=True, validate=CODE)
    name = Text(required=True)
    region = fields.String(required=True, validate=DIVISION)
    source = Text()
    targets = fields.List(fields.Nested(TargetSchema))
    rules = fields.Dict(keys=fields.String())
    site_standards = codes()
    guide_fields = fields.String(validate=CODE)
    staffing = fields.List(fields.Nested(StaffingRuleSchema))
    assessment = fields.Nested(AssessmentRuleSchema)


class RegionSchema(Strict):
    code = fields.String(required=True, validate=DIVISION)
    level = fields.String(required=True, validate=validate.OneOf(LEVELS))
    name = Text(required=True)
    parent = fields.String(validate=DIVISION)
    demonstration = fields.Boolean()

    @validates_schema
    def _shape(self, data, **kwargs):
        lengths = {"county": 6, "township": 9, "village": 12, "group": 15}
        level, code = data.get("level"), data.get("code", "")
        if level in lengths and len(code) != lengths[level]:
            raise ValidationError(f"a {level} code has {lengths[level]} digits", "code")
        parent = data.get("parent")
        if level != "county" and not parent:
            raise ValidationError("required below county level", "parent")
        if parent and not code.startswith(parent):
            raise ValidationError("must begin with the parent's code", "code")


class SiteSchema(Strict):
    code = fields.String(required=True, validate=CODE)
    kind = fields.String(required=True, validate=validate.OneOf(SITE_KINDS))
    name = Text(required=True)
    region = fields.String(required=True, validate=DIVISION)
    standard = fields.String(validate=CODE)
    area = fields.Float()
    windows = fields.Integer()
    partner = Text()
    address = Text()
    phone = fields.String()
    hours = Text()
    sessions = fields.List(fields.Nested(lambda: SessionSchema()))  # structured opening hours
    slot_minutes = fields.Integer(validate=validate.Range(min=5, max=240))  # appointment slot length (default 30)
    capacity = fields.Integer(validate=validate.Range(min=1, max=50))  # appointments per slot (default 1)
    items = codes()
    equipment = fields.List(Text())
    zones = fields.List(Text())  # functional zones (咨询引导区, 综合受理区 …)
    features = fields.List(fields.String(validate=CODE))  # barrier_free, cctv, fire_equipment, complaint_box …
    ports = fields.Integer(validate=validate.Range(min=0))  # network ports per window
    demonstration = fields.Boolean()


class SessionSchema(Strict):
    """One opening session of a site: the days, from, to, and whether it is
    extended-hours service (延时服务)."""

    days = fields.List(fields.String(validate=validate.OneOf(WEEKDAYS)), required=True,
                       validate=validate.Length(min=1))
    start = fields.String(required=True, validate=TIME)
    end = fields.String(required=True, validate=TIME)
    kind = fields.String(validate=validate.OneOf(("regular", "extended", "appointment")))
    capacity = fields.Integer(validate=validate.Range(min=1))  # appointments per slot


class SpecialGroupSchema(Strict):
    """A special group served through the green channel (绿色通道): 80 and
    over, disabled, seriously ill, pregnant … A case filed for one jumps
    the queue on every work list."""

    code = fields.String(required=True, validate=CODE)
    name = Text(required=True)
    note = Text()


class StaffSchema(Strict):
    """Demo and bootstrap accounts (real ones are managed in the admin)."""

    username = fields.String(required=True, validate=validate.Regexp(r"^[a-z][a-z0-9_.\-]{2,}$"))
    name = Text(required=True)
    role = fields.String(required=True, validate=CODE)
    region = fields.String(required=True, validate=DIVISION)
    department = fields.String(validate=CODE)
    phone = fields.String()
    hours = Text()  # on duty, for the public staff board (挂牌公示)
    photo = fields.String()  # a file name under the demo pack's photos/
    covers = fields.String()  # B post (AB岗): the username of the A post whose window this one covers
    posts = fields.List(fields.String(validate=CODE))  # e.g. party_member_post (党员先锋岗), model_post (模范示范岗)


CLOCK_EFFECTS = ("start", "pause", "resume", "stop")
TRANSITION_INPUTS = (
    "reason", "note", "missing_materials", "missing_material", "promise_due", "department", "helper",
    "joint", "delivery", "rating", "comment",
)


class StateSchema(Strict):
    code = fields.String(required=True, validate=CODE)
    name = Text(required=True)
    step = fields.String(validate=validate.OneOf(("apply", "accept", "handle", "archive", "evaluate")))
    final = fields.Boolean()
    clock = fields.String(validate=validate.OneOf(("running", "paused")))


class TransitionSchema(Strict):
    code = fields.String(required=True, validate=CODE)
    name = Text(required=True)
    from_ = fields.List(fields.String(validate=CODE), required=True, data_key="from", validate=validate.Length(min=1))
    to = fields.String(required=True, validate=CODE)
    permission = fields.String(required=True, validate=validate.Regexp(r"^[a-z][a-z0-9_]*\.[a-z][a-z0-9_.]*$"))
    kinds = fields.List(fields.String(validate=validate.OneOf(ITEM_KINDS)))
    requires = fields.List(fields.String(validate=validate.OneOf(TRANSITION_INPUTS)))
    assignee = fields.String(validate=validate.OneOf(("department", "joint")))
    assignee_role = fields.String(validate=CODE)
    clock = fields.String(validate=validate.OneOf(CLOCK_EFFECTS))
    owner_only = fields.Boolean()
    assignee_only = fields.Boolean()
    notice = fields.String(validate=validate.OneOf(("decline", "one_time")))


class WorkflowSchema(Strict):
    """A case's state machine. A region replaces the default by a workflow
    with another code named in its items' ``workflow`` or by overriding it."""

    code = fields.String(required=True, validate=CODE)
    name = Text(required=True)
    kinds = fields.List(fields.String(validate=validate.OneOf(ITEM_KINDS)), required=True)
    initial = fields.String(required=True, validate=CODE)
    states = fields.List(fields.Nested(StateSchema), required=True, validate=validate.Length(min=2))
    transitions = fields.List(fields.Nested(TransitionSchema), required=True, validate=validate.Length(min=1))

    @validates_schema
    def _consistent(self, data, **kwargs):
        states = [s["code"] for s in data.get("states", [])]
        errors = {}
        if len(set(states)) != len(states):
            errors["states"] = ["state codes must be unique"]
        if data.get("initial") not in states:
            errors["initial"] = [f"{data.get('initial')!r} is not one of the states"]
        codes_seen = set()
        for i, t in enumerate(data.get("transitions", [])):
            bad = [s for s in [*t["from_"], t["to"]] if s not in states]
            if bad:
                errors.setdefault("transitions", {})[i] = {"from": [f"unknown state(s): {', '.join(bad)}"]}
            if t["code"] in codes_seen:
                errors.setdefault("transitions", {})[i] = {"code": ["transition codes must be unique"]}
            codes_seen.add(t["code"])
            if bool(t.get("assignee")) != bool(t.get("assignee_role")):
                errors.setdefault("transitions", {})[i] = {
                    "assignee_role": ["assignee and assignee_role go together"]}
        if errors:
            raise ValidationError(errors)


#: kind -> (schema class, key field). Plugins add kinds through the
#: ``register_metadata_kinds`` hook.
BUILTIN_KINDS = {
    "items": (ItemSchema, "code"),
    "departments": (DepartmentSchema, "code"),
    "guide_fields": (GuideFieldSchema, "code"),
    "roles": (RoleSchema, "code"),
    "site_standards": (SiteStandardSchema, "code"),
    "rulesets": (RulesetSchema, "code"),
    "regions": (RegionSchema, "code"),
    "sites": (SiteSchema, "code"),
    "staff": (StaffSchema, "username"),
    "workflows": (WorkflowSchema, "code"),
    "special_groups": (SpecialGroupSchema, "code"),
}

#: (kind, dotted field path, target kind) checked after merging.
REFERENCES = [
    ("items", "department", "departments"),
    ("items", "joint_departments[]", "departments"),
    ("items", "roles[]", "roles"),
    ("site_standards", "staffing[].role", "roles"),
    ("rulesets", "region", "regions"),
    ("rulesets", "site_standards[]", "site_standards"),
    ("rulesets", "guide_fields", "guide_fields"),
    ("rulesets", "staffing[].roles[]", "roles"),
    ("rulesets", "assessment.roles[]", "roles"),
    ("regions", "parent", "regions"),
    ("sites", "region", "regions"),
    ("sites", "standard", "site_standards"),
    ("sites", "items[]", "items"),
    ("staff", "role", "roles"),
    ("staff", "region", "regions"),
    ("staff", "department", "departments"),
    ("workflows", "transitions[].assignee_role", "roles"),
    ("items", "workflow", "workflows"),
]
