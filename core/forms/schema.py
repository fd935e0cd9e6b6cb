"""marshmallow schemas generated from a form spec (see :mod:`.spec`).

A field hidden by its ``show_if`` is dropped before validation; a field is
required when ``required`` is set or its ``required_if`` is true (and it is
shown). Conditions are evaluated on leniently typed values (``"false"`` of a
yes/no field is ``False``, ``"12"`` of an integer field is ``12``; what does
not convert is ``None``). Unknown keys (``csrf_token`` …) are excluded.
Messages are lazy, translatable strings with English msgids.
"""
from __future__ import annotations

from marshmallow import EXCLUDE, Schema, ValidationError, post_load, pre_load, validates_schema

from .expressions import compile_expression
from .fields import MATERIAL_MISSING, REQUIRED, Material, make_field
from .spec import spec_fields

def _is_empty(value) -> bool:
    if value is None:
        return True
    if isinstance(value, str):
        return not value.strip()
    if isinstance(value, (list, tuple)):
        return all(_is_empty(v) for v in value)
    if hasattr(value, "stream") and hasattr(value, "filename"):
        return not value.filename
    return False


def collect(spec, formdata, files=None) -> dict:
    """The spec's fields from request-like mappings (``MultiDict`` or dict);
    empty values are left out."""
    out = {}
    formdata = formdata if hasattr(formdata, "get") else {}
    files = files if hasattr(files, "get") else {}
    for f in spec_fields(spec):
        name, source = f["name"], (files if f["type"] == "file" and files else formdata) or {}
        if name not in source:
            continue
        if f["type"] == "multi_choice" and hasattr(source, "getlist"):
            value = [v for v in source.getlist(name) if not _is_empty(v)]
        else:
            value = source.get(name)
            if isinstance(value, (list, tuple)) and f["type"] != "multi_choice" and len(value) == 1:
                value = value[0]
        if not _is_empty(value):
            out[name] = value
    return out


def condition_names(spec) -> frozenset:
    """The field names the spec's ``show_if``/``required_if`` conditions read."""
    names = set()
    for f in spec_fields(spec):
        for key in ("show_if", "required_if"):
            if f.get(key):
                names |= compile_expression(f[key]).names
    return frozenset(names)


def form_state(spec, data, mfields, only=None) -> tuple[dict, set, set]:
    """``(values, hidden, required)`` for raw ``data``: the leniently typed
    values the conditions see, the hidden names and the required names.
    ``only``: type just these fields' values (the others are left out of
    ``values``; the schema passes the names its conditions and material
    checks read, so that a field is not deserialized twice per load)."""
    specs = list(spec_fields(spec))
    values = {}
    for f in specs:
        if only is not None and f["name"] not in only:
            continue
        raw = data.get(f["name"])
        if raw is None or f["type"] == "file":
            values[f["name"]] = None if raw is None else True
            continue
        try:
            values[f["name"]] = mfields[f["name"]].deserialize(raw)
        except (ValidationError, TypeError, ValueError, KeyError):
            values[f["name"]] = None
    conditional = [f for f in specs if f.get("show_if")]
    hidden: set = set()
    for _ in range(len(conditional) + 1):  # hiding one field may hide those depending on it
        view = {k: (None if k in hidden else v) for k, v in values.items()}
        now = {f["name"] for f in conditional if not compile_expression(f["show_if"]).evaluate(view)}
        if now == hidden:
            break
        hidden = now
    view = {k: (None if k in hidden else v) for k, v in values.items()}
    required = {f["name"] for f in specs if f["name"] not in hidden and (
        f.get("required") or (f.get("required_if") and compile_expression(f["required_if"]).evaluate(view)))}
    return values, hidden, required


ATTR = "f_"  # attribute prefix: a field named "load" or "fields" must not shadow the Schema's own


STATE = "\x00state"  # private key: never a field name (names are [a-z0-9_])


class FormSchema(Schema):
    """Base of generated schemas; ``spec`` is set on each generated class."""

    spec: dict = {}

    class Meta:
        unknown = EXCLUDE

    def _state(self, data):
        by_name = {name[len(ATTR):]: f for name, f in self.fields.items()}
        collected = collect(self.spec, data)
        cls = type(self)
        if "_read" not in cls.__dict__:  # what the conditions and the material checks read, once per class
            cls._read = condition_names(self.spec) | {n for n, f in by_name.items() if isinstance(f, Material)}
        return (collected, *form_state(self.spec, collected, by_name, only=cls._read))

    @pre_load
    def _drop_hidden_and_empty(self, data, **kwargs):
        state = self._state(data)
        if isinstance(data, dict):
            data[STATE] = state  # computed once per load; read again by _required
        collected, _values, hidden, _required = state
        return {k: v for k, v in collected.items() if k not in hidden}

    @validates_schema(pass_original=True, skip_on_field_errors=False)
    def _required(self, data, original_data, **kwargs):
        state = original_data.get(STATE) if isinstance(original_data, dict) else None
        collected, values, _hidden, required = state or self._state(original_data)
        errors = {}
        for name in sorted(required):
            if isinstance(self.fields[ATTR + name], Material):
                if values.get(name) is not True:
                    errors[name] = [MATERIAL_MISSING]
            elif name not in collected:
                errors[name] = [REQUIRED]
        if errors:
            raise ValidationError(errors)

    @post_load
    def _names(self, data, **kwargs):
        return {k[len(ATTR):]: v for k, v in data.items()}


def schema_for(spec, *, divisions=frozenset(), max_upload_bytes=10 * 1024 * 1024) -> Schema:
    """A marshmallow schema instance for ``spec``. ``divisions`` are the
    division codes a ``division`` field accepts (none by default)."""
    attrs = {}
    for f in spec_fields(spec):
        field = make_field(f, divisions, max_upload_bytes)
        field.data_key = f["name"]
        attrs[ATTR + f["name"]] = field
    attrs["spec"] = spec
    return type("CommissionFormSchema", (FormSchema,), attrs)()


def validate_form(spec, formdata, files=None, schema=None, **kw) -> tuple[dict, dict]:
    """Validate submitted ``formdata`` (and ``files``) against ``spec``.

    Return ``(data, errors)``: on success the typed data and ``{}``; else
    the fields that were valid and ``{field name: [message, …]}``. Never
    raises for bad input. Keyword arguments go to :func:`schema_for`; pass
    a ``schema`` made by it earlier to skip rebuilding it.
    """
    schema = schema or schema_for(spec, **kw)
    try:
        return schema.load(collect(spec, formdata, files)), {}
    except ValidationError as exc:
        messages = exc.messages if isinstance(exc.messages, dict) else {"_form": exc.messages}
        valid = exc.valid_data if isinstance(exc.valid_data, dict) else {}
        return {k[len(ATTR):]: v for k, v in valid.items() if k.startswith(ATTR)}, messages
