"""marshmallow fields for the form field types, with user-facing,
translatable messages (lazy, English msgids)."""
from __future__ import annotations

import datetime
import decimal
import io

from flask_babel import lazy_gettext as _l
from marshmallow import ValidationError, fields, validate

from .validators import (SNIFF_BYTES, clean_text, matches_pattern, normalise_id_number, sniff_file_type,
                         text_problem, valid_id_number, valid_mobile)

TRUE = {"true", "1", "yes", "on", "y"}
FALSE = {"false", "0", "no", "off", "n"}
UPLOAD_TYPES = frozenset({"pdf", "jpeg", "png"})
TEXT_MAX = {"text": 500, "long_text": 5000}
# Bounds of generated number and date fields (metadata sets none): twelve
# digits before the point (counts, amounts in yuan), six after; dates of
# living people and of the coming decades.
NUMBER_MAX = 10**12 - 1
DECIMAL_PLACES = 6
NUMBER_CHARS = 40  # longer input is not a number anybody typed
DATE_MIN, DATE_MAX = datetime.date(1900, 1, 1), datetime.date(2099, 12, 31)

REQUIRED = _l("This field is required.")
MATERIAL_MISSING = _l("This key material has not been received.")
ID_MESSAGES = {
    "length": _l("Not a valid citizen ID number: it must have 18 characters."),
    "format": _l("Not a valid citizen ID number: it must be 17 digits followed by a digit or X."),
    "birth_date": _l("Not a valid citizen ID number: the date of birth is not possible."),
    "check_digit": _l("Not a valid citizen ID number: the check digit is wrong."),
}


def _error(message) -> ValidationError:
    # A lazy string is neither str nor list: wrap it, or marshmallow iterates its characters.
    return ValidationError([message])


class Lazy:
    """Mixin: errors with lazy (translatable) messages stay lists of messages."""

    def make_error(self, key, **kwargs):
        error = super().make_error(key, **kwargs)
        return error if isinstance(error.messages, (list, dict)) else _error(error.messages)


def _messages(invalid):
    return {"invalid": invalid, "null": REQUIRED, "required": REQUIRED,
            "validator_failed": _l("Not a valid value.")}


class Text(Lazy, fields.String):
    def __init__(self, **kw):
        super().__init__(error_messages=_messages(_l("Enter text.")), **kw)

    def _deserialize(self, value, attr, data, **kw):
        value = clean_text(super()._deserialize(value, attr, data, **kw))
        problem = text_problem(value)
        if problem == "control":
            raise _error(_l("Remove the control characters (invisible codes) from this text."))
        if problem == "invisible":
            raise _error(_l("Enter visible text: this holds only invisible characters."))
        return value


class IdNumber(Text):
    def _deserialize(self, value, attr, data, **kw):
        value = normalise_id_number(super()._deserialize(value, attr, data, **kw))
        reason = valid_id_number(value)
        if reason:
            raise _error(ID_MESSAGES[reason])
        return value


class Mobile(Text):
    def _deserialize(self, value, attr, data, **kw):
        value = super()._deserialize(value, attr, data, **kw)
        if not valid_mobile(value):
            raise _error(_l("Not a valid mobile number: it must be 11 digits beginning with 13 to 19."))
        return value


class Choice(Lazy, fields.Field):
    def __init__(self, options, **kw):
        self.by_key = {str(o["value"]): o["value"] for o in options}
        super().__init__(error_messages=_messages(_l("Choose one of the options offered.")), **kw)

    def _one(self, value):
        key = value.strip() if isinstance(value, str) else str(value)
        if key not in self.by_key:
            raise self.make_error("invalid")
        return self.by_key[key]

    def _deserialize(self, value, attr, data, **kw):
        return self._one(value)


class MultiChoice(Choice):
    def _deserialize(self, value, attr, data, **kw):
        values = value if isinstance(value, (list, tuple)) else [value]
        return list(dict.fromkeys(self._one(v) for v in values))


class YesNo(Lazy, fields.Field):
    def __init__(self, **kw):
        super().__init__(error_messages=_messages(_l("Choose yes or no.")), **kw)

    def _deserialize(self, value, attr, data, **kw):
        if isinstance(value, bool):
            return value
        text = str(value).strip().lower()
        if text in TRUE or text in FALSE:
            return text in TRUE
        raise self.make_error("invalid")


class Material(YesNo):
    def __init__(self, **kw):
        super().__init__(load_default=False, **kw)


class Upload(Lazy, fields.Field):
    def __init__(self, max_bytes, allowed=UPLOAD_TYPES, **kw):
        self.max_bytes, self.allowed = max_bytes, allowed
        super().__init__(error_messages=_messages(_l("Not a file upload.")), **kw)

    def _size(self, storage):
        stream = storage.stream
        try:
            stream.seek(0, io.SEEK_END)
            size = stream.tell()
            stream.seek(0)
            return size
        except (AttributeError, OSError, ValueError):
            body = stream.read(self.max_bytes + 1)  # not seekable: keep a bounded copy
            storage.stream = io.BytesIO(body)
            return len(body)

    def _deserialize(self, value, attr, data, **kw):
        if not hasattr(value, "stream") or not hasattr(value, "filename"):
            raise self.make_error("invalid")
        size = self._size(value)
        if size == 0:
            raise _error(_l("The file is empty."))
        if size > self.max_bytes:
            raise _error(_l("The file is larger than %(mb)s MB.", mb=round(self.max_bytes / 2**20, 1)))
        kind = sniff_file_type(value.stream.read(SNIFF_BYTES))
        value.stream.seek(0)
        if kind not in self.allowed:
            raise _error(_l("Only PDF, JPEG or PNG files are accepted."))
        return {"file": value, "type": kind, "size": size}


def _short_text(value, field):
    if isinstance(value, str):
        value = value.strip()
        if len(value) > NUMBER_CHARS:
            raise field.make_error("invalid")
    return value


class Integer(Lazy, fields.Integer):
    def _deserialize(self, value, attr, data, **kw):
        number = super()._deserialize(_short_text(value, self), attr, data, **kw)
        if not -NUMBER_MAX <= number <= NUMBER_MAX:
            raise _error(_l("Enter a whole number from %(min)s to %(max)s.", min=-NUMBER_MAX, max=NUMBER_MAX))
        return number


class Decimal(Lazy, fields.Decimal):
    def _deserialize(self, value, attr, data, **kw):
        number = super()._deserialize(_short_text(value, self), attr, data, **kw)
        if not number.is_finite() or abs(number) > NUMBER_MAX or number.as_tuple().exponent < -DECIMAL_PLACES:
            raise _error(_l("Enter a number from %(min)s to %(max)s with at most %(places)s decimal places.",
                            min=-NUMBER_MAX, max=NUMBER_MAX, places=DECIMAL_PLACES))
        return decimal.Decimal(format(number, "f"))  # 1E+3 is kept as 1000


class Date(Lazy, fields.Date):
    def _deserialize(self, value, attr, data, **kw):
        day = super()._deserialize(_short_text(value, self), attr, data, **kw)
        if not DATE_MIN <= day <= DATE_MAX:
            raise _error(_l("Enter a date from %(min)s to %(max)s.", min=DATE_MIN.isoformat(),
                            max=DATE_MAX.isoformat()))
        return day


def _pattern(pattern):
    def check(value):
        if not matches_pattern(value, pattern):
            raise _error(_l("Not in the expected form; see the field's explanation."))
    return check


def make_field(f, divisions, max_upload_bytes):
    kind = f["type"]
    if kind in TEXT_MAX:
        longest = min(TEXT_MAX[kind], f.get("max_length") or TEXT_MAX[kind])
        checks = [validate.Length(max=longest, error=_l("Too long: at most %(max)s characters.", max=longest))]
        if f.get("pattern"):
            checks.append(_pattern(f["pattern"]))
        return Text(validate=checks)
    if kind == "integer":
        return Integer(error_messages=_messages(_l("Enter a whole number.")))
    if kind == "decimal":
        return Decimal(allow_nan=False, error_messages={
            **_messages(_l("Enter a number.")), "special": _l("Enter a number.")})
    if kind == "date":
        return Date(error_messages={**_messages(_l("Enter a date (YYYY-MM-DD).")),
                                           "format": _l("Enter a date (YYYY-MM-DD).")})
    if kind == "choice":
        return Choice(f["options"])
    if kind == "multi_choice":
        return MultiChoice(f["options"])
    if kind == "yes_no":
        return YesNo()
    if kind == "id_number":
        return IdNumber()
    if kind == "mobile":
        return Mobile()
    if kind == "division":
        return Text(validate=validate.OneOf(sorted(divisions), error=_l("Not a known administrative division.")))
    if kind == "file":
        return Upload(max_upload_bytes)
    if kind == "material":
        return Material()
    raise ValueError(f"unknown field type {kind!r} of field {f['name']!r}")
