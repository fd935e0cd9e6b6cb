"""The JSON API for devices (the mobile client) and its OpenAPI document.

Who: the cookie session of the web pages, or ``Authorization: Bearer
<token>`` (:mod:`core.tokens`) under ``/api/``; either way the same
``can`` and the same scope, so a device sees and does exactly what its
staff member may on the web pages. A bearer request needs no CSRF token;
a cookie request still does (a POST here checks it).

What: list items, fetch an item's form spec, file a case (JSON, or
multipart with uploads) validated by the same marshmallow schema the web
form uses, read a case and the steps available on it, take a step. The
OpenAPI 3 document is generated with apispec from the marshmallow schemas
below and served at ``/api/openapi.json``; ``/api/docs`` lists its
operations for people. ``tests/test_api.py`` checks that every ``/api/``
route is in the document, and runs schemathesis against it.
"""
from __future__ import annotations

from pathlib import Path

from flask import Blueprint, current_app, g, jsonify, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_required
from marshmallow import EXCLUDE, Schema, ValidationError, fields, validate
from werkzeug.datastructures import MultiDict
from werkzeug.exceptions import HTTPException

from . import scope, tokens
from .cases import service
from .cases import workflow as wf
from .i18n import localized
from .permissions import require

bp = Blueprint("api", __name__)
API_VERSION = "1.0.0"


# --- authentication -----------------------------------------------------------

def _from_bearer(req):
    """Flask-Login's request loader: a bearer token, under /api/ only."""
    from .auth import User

    if not req.path.startswith("/api/"):
        return None
    token = tokens.bearer(req)
    if token is None:
        return None
    row = tokens.authenticate(token)
    if row is None:
        g.bearer_refused = True
        return None
    g.bearer = row
    return User(row.staff)


def _unauthorized():
    from flask_login.utils import login_url

    if request.path.startswith("/api/"):
        message = (_("The API token is unknown or revoked.") if g.get("bearer_refused")
                   else _("Sign in, or send an API token (Authorization: Bearer …)."))
        response = jsonify({"error": message})
        response.headers["WWW-Authenticate"] = 'Bearer realm="bangban"'
        return response, 401
    return redirect(login_url(current_app.login_manager.login_view, next_url=request.url))


def _json_error(error: HTTPException):
    """Errors under /api/ as JSON (a page elsewhere)."""
    if not request.path.startswith("/api/"):
        return error
    messages = {401: _("Sign in, or send an API token (Authorization: Bearer …)."),
                403: _("Your role may not do this."), 405: _("This method is not allowed here."),
                413: _("The upload is too large."), 415: _("Send JSON or a multipart form.")}
    response = jsonify({"error": messages.get(error.code, error.description or error.name)})
    return response, error.code


@bp.record_once
def _wire(state):
    app = state.app
    app.login_manager.request_loader(_from_bearer)
    app.login_manager.unauthorized_handler(_unauthorized)
    for code in (403, 405, 413, 415):
        app.register_error_handler(code, _json_error)
    csrf = app.extensions["csrf"]
    for view in (file_case, take_step):  # they check CSRF themselves, for cookie requests only
        csrf.exempt(view)


def _check_csrf():
    """Cookie requests carry a CSRF token (header ``X-CSRFToken`` or form
    field); bearer requests carry none."""
    if g.get("bearer") is None:
        current_app.extensions["csrf"].protect()


# --- schemas (the OpenAPI document is generated from these) ---------------------

class ErrorSchema(Schema):
    error = fields.String(required=True, metadata={"description": "What went wrong, in the user's language."})
    errors = fields.Dict(keys=fields.String(), values=fields.List(fields.String()),
                         metadata={"description": "Messages by form field."})


class ItemSchema(Schema):
    code = fields.String(required=True)
    name = fields.String(required=True)
    kind = fields.String(required=True, metadata={"enum": ["instant", "promised", "major"]})
    department = fields.String(required=True)
    department_name = fields.String(required=True)
    high_frequency = fields.Boolean(required=True)
    frequent = fields.Boolean(required=True, metadata={"description": "Among the items you file most."})
    url = fields.String(required=True, metadata={"description": "The web form of the item."})


class FormFieldSchema(Schema):
    name = fields.String(required=True, metadata={"description": "The key to send when filing a case."})
    type = fields.String(required=True)
    label = fields.String(required=True)
    required = fields.Boolean()


class FormSectionSchema(Schema):
    key = fields.String(required=True)
    title = fields.String(required=True)
    fields_ = fields.List(fields.Nested(FormFieldSchema), data_key="fields", required=True)


class FormSpecSchema(Schema):
    item = fields.Dict(required=True)
    sections = fields.List(fields.Nested(FormSectionSchema), required=True)
    version = fields.Integer(required=True, metadata={"description": "The item version the case will be filed under."})


class CaseRowSchema(Schema):
    """A case as the ledger shows it (personal data masked)."""

    id = fields.Integer(required=True)
    number = fields.String(required=True)
    date = fields.String(required=True)
    applicant = fields.String(required=True)
    id_number = fields.String(required=True)
    phone = fields.String(required=True)
    village = fields.String(required=True)
    item = fields.String(required=True)
    item_version = fields.Integer(required=True)
    state = fields.String(required=True)
    state_code = fields.String(required=True)
    due = fields.String(required=True)
    overdue = fields.Boolean(required=True)
    finished = fields.String(required=True)
    agent = fields.String(required=True)
    rating = fields.Integer(required=True, allow_none=True)
    rating_comment = fields.String(required=True)


class CountSchema(Schema):
    count = fields.Integer(required=True)


class FiledSchema(Schema):
    id = fields.Integer(required=True)
    number = fields.String(required=True)
    state = fields.String(required=True)


class StepSchema(Schema):
    code = fields.String(required=True)
    name = fields.String(required=True)
    to = fields.String(required=True)
    requires = fields.List(fields.String(), required=True,
                           metadata={"description": "Inputs the step needs (keys of StepInputs)."})


class CaseStepsSchema(Schema):
    id = fields.Integer(required=True)
    number = fields.String(required=True)
    state = fields.String(required=True)
    steps = fields.List(fields.Nested(StepSchema), required=True)


class DeliverySchema(Schema):
    method = fields.String(required=True, validate=validate.OneOf(service.DELIVERY_METHODS))
    received_by = fields.String(required=True, validate=validate.Length(min=1, max=80))
    tracking = fields.String(validate=validate.Length(max=80))


_TEXT = validate.Length(max=500)


class StepInputsSchema(Schema):
    """What a step may require (see the step's ``requires``)."""

    class Meta:
        unknown = EXCLUDE

    reason = fields.String(validate=_TEXT)
    note = fields.String(validate=_TEXT)
    missing_materials = fields.List(fields.String(validate=_TEXT), validate=validate.Length(max=50))
    missing_material = fields.String(validate=_TEXT)
    promise_due = fields.Date()
    department = fields.String(validate=validate.Length(max=40))
    helper = fields.Integer(validate=validate.Range(min=1, max=2**63 - 1))
    joint = fields.List(fields.String(validate=validate.Length(max=40)), validate=validate.Length(max=20))
    rating = fields.Integer(validate=validate.Range(min=1, max=5))
    comment = fields.String(validate=_TEXT)
    delivery = fields.Nested(DeliverySchema)


class MeSchema(Schema):
    username = fields.String(required=True)
    name = fields.String(required=True)
    role = fields.String(required=True)
    county_code = fields.String(required=True)
    region = fields.String(required=True)
    via = fields.String(required=True, metadata={"enum": ["token", "session"]})


# --- endpoints ------------------------------------------------------------------

@bp.route("/api/me")
@login_required
def me():
    user = current_user
    return jsonify({"username": user.username, "name": user.name, "role": user.role,
                    "county_code": user.county_code, "region": user.region or "",
                    "via": "token" if g.get("bearer") is not None else "session"})


def _formdata():
    """The submitted answers as form data: a multipart form (with files) or
    a JSON object of text, numbers, yes/no and lists of those."""
    if request.mimetype == "application/json":
        body = request.get_json(silent=True)
        if not isinstance(body, dict):
            return None, None
        pairs = []
        for key, value in body.items():
            for one in (value if isinstance(value, list) else [value]):
                if isinstance(one, bool):
                    pairs.append((key, "true" if one else "false"))
                elif isinstance(one, (str, int, float)):
                    pairs.append((key, str(one)))
                elif one is not None:
                    return None, None
        return MultiDict(pairs), MultiDict()
    if request.mimetype in ("multipart/form-data", "application/x-www-form-urlencoded"):
        return request.form, request.files
    return None, None


def _bad(message, errors=None, status=400):
    body = {"error": str(message)}
    if errors:
        body["errors"] = {k: [str(m) for m in (v if isinstance(v, list) else [v])] for k, v in errors.items()}
    return jsonify(body), status


@bp.route("/api/items/<code>/cases", methods=["POST"])
@login_required
def file_case(code):
    from .cases.views import _lang, compiled_form, current_item, is_offered

    _check_csrf()
    require("case.create")
    record = current_item(code, current_user)
    if record is None or not is_offered(record.content, current_user):
        return _bad(_("Not found"), status=404)
    form, files = _formdata()
    if form is None:
        return _bad(_("Send the answers as a JSON object or a multipart form."))
    spec, schema, _divisions, _key = compiled_form(record, current_user, _lang())
    if len(current_user.region or "") >= 12 and "applicant_division" not in form:
        form = MultiDict([*form.items(multi=True), ("applicant_division", current_user.region)])
    from .forms import validate_form

    data, errors = validate_form(spec, form, files, schema=schema)
    if errors:
        return _bad(_("Some answers are missing or wrong."), errors)
    try:
        uploads = Path(current_app.config["BANGBAN"]["DATA_DIR"]) / "uploads"
        case = service.create_case(record, service.store_uploads(data, uploads), current_user)
    except wf.TransitionError as exc:
        return _bad(exc)
    response = jsonify({"id": case.id, "number": case.number, "state": case.state})
    response.headers["Location"] = url_for("ledger.api_case", case_id=case.id)
    return response, 201


def _steps(case):
    flow = wf.load(case.workflow)
    return {"id": case.id, "number": case.number, "state": case.state,
            "steps": [{"code": t.code, "name": localized(t.name), "to": t.target, "requires": list(t.requires)}
                      for t in flow.available(case, current_user)]}


@bp.route("/api/cases/<int:case_id>/steps")
@login_required
def case_steps(case_id):
    case = scope.case_or_404(current_user, case_id)
    return jsonify(_steps(case))


@bp.route("/api/cases/<int:case_id>/steps/<code>", methods=["POST"])
@login_required
def take_step(case_id, code):
    _check_csrf()
    case = scope.case_or_404(current_user, case_id)
    transition = wf.load(case.workflow).transitions.get(code)
    if transition is None:
        return _bad(_("Not found"), status=404)
    require(transition.permission, case)
    body = request.get_json(silent=True) if request.mimetype == "application/json" else None
    if body is None and request.content_length:
        return _bad(_("Send the step's inputs as a JSON object."))
    if not isinstance(body or {}, dict):
        return _bad(_("Send the step's inputs as a JSON object."))
    try:
        inputs = StepInputsSchema().load(body or {})
    except ValidationError as exc:
        return _bad(_("Some inputs are missing or wrong."), exc.messages)
    try:
        case = service.take(case, code, current_user, inputs)
    except wf.TransitionError as exc:
        return _bad(exc, status=409)
    return jsonify(_steps(case))


# --- the document ----------------------------------------------------------------

def _op(op_id, summary, ok, *, status=200, params=(), body=None, refusals=(401, 403), tags=("cases",), query=()):
    responses = {str(status): {"description": "OK", "content": {"application/json": {"schema": ok}}}}
    for code in (400, *refusals, 404):
        responses.setdefault(str(code), {"description": {400: "Bad input", 401: "Not signed in", 403: "Refused",
                                                         404: "Not found (or outside your area)",
                                                         409: "The step cannot be taken now"}[code],
                                         "content": {"application/json": {"schema": "Error"}}})
    operation = {"operationId": op_id, "summary": summary, "tags": list(tags), "responses": responses,
                 "parameters": [*params, *query]}
    if body:
        operation["requestBody"] = body
    return operation


CASE_ID = {"name": "case_id", "in": "path", "required": True,
           "schema": {"type": "integer", "minimum": 1, "maximum": 2**63 - 1}}
CODE = {"name": "code", "in": "path", "required": True, "schema": {"type": "string", "minLength": 1}}
ANSWERS = {"type": "object", "description": "Answers keyed by the form spec's field names "
                                           "(GET /api/items/{code}/form); uploads only as multipart.",
           "additionalProperties": {"oneOf": [{"type": "string"}, {"type": "number"}, {"type": "boolean"},
                                              {"type": "array", "items": {"type": "string"}}]}}


def build_spec():
    from apispec import APISpec
    from apispec.ext.marshmallow import MarshmallowPlugin

    spec = APISpec(title="Bangban API", version=API_VERSION, openapi_version="3.0.3",
                   plugins=[MarshmallowPlugin()],
                   info={"description": "The JSON API of Bangban for devices: the same permissions and area "
                                        "as the staff member the token was issued to."})
    spec.components.security_scheme("bearer", {"type": "http", "scheme": "bearer"})
    for name, schema in [("Error", ErrorSchema), ("Item", ItemSchema), ("FormSpec", FormSpecSchema),
                         ("CaseRow", CaseRowSchema), ("Count", CountSchema), ("Filed", FiledSchema),
                         ("CaseSteps", CaseStepsSchema), ("StepInputs", StepInputsSchema), ("Me", MeSchema)]:
        spec.components.schema(name, schema=schema)
    offset = {"name": "offset", "in": "query", "schema": {"type": "integer", "minimum": 0,
                                                          "maximum": 2**63 - 1}}
    limit = {"name": "limit", "in": "query", "schema": {"type": "integer", "minimum": 1, "maximum": 1000}}
    state = {"name": "state", "in": "query", "schema": {"type": "string"}}
    q = {"name": "q", "in": "query", "schema": {"type": "string"}}
    array = lambda ref: {"type": "array", "items": {"$ref": f"#/components/schemas/{ref}"}}  # noqa: E731
    spec.path("/api/me", operations={"get": _op("getMe", "Who the token or session is", "Me", tags=("auth",),
                                                refusals=(401,))})
    item_limit = {"name": "limit", "in": "query", "schema": {"type": "integer", "minimum": 1, "maximum": 50}}
    spec.path("/api/items", operations={"get": _op("listItems", "Items you may file cases for, a page at a time "
                                                   "(the total in X-Total-Count)", array("Item"),
                                                   query=[q, offset, item_limit], tags=("items",))})
    spec.path("/api/items/{code}/form", operations={"get": _op(
        "getItemForm", "The item's form spec", "FormSpec", params=[CODE], tags=("items",))})
    spec.path("/api/items/{code}/cases", operations={"post": _op(
        "fileCase", "File a case (validated like the web form)", "Filed", status=201, params=[CODE],
        body={"required": True, "content": {"application/json": {"schema": ANSWERS},
                                            "multipart/form-data": {"schema": ANSWERS}}})})
    spec.path("/api/cases", operations={"get": _op("listCases", "The cases in your area (the ledger)",
                                                   array("CaseRow"), query=[offset, limit, state])})
    spec.path("/api/cases/count", operations={"get": _op("countCases", "How many cases in your area", "Count",
                                                         query=[state])})
    spec.path("/api/cases/{case_id}", operations={"get": _op("getCase", "One case", "CaseRow", params=[CASE_ID])})
    spec.path("/api/cases/{case_id}/steps", operations={"get": _op(
        "listCaseSteps", "The steps you may take on a case", "CaseSteps", params=[CASE_ID])})
    spec.path("/api/cases/{case_id}/steps/{code}", operations={"post": _op(
        "takeStep", "Take a step", "CaseSteps", params=[CASE_ID, CODE], refusals=(401, 403, 409),
        body={"required": False, "content": {"application/json": {"schema": "StepInputs"}}})})
    document = spec.to_dict()
    document["security"] = [{"bearer": []}]
    for path in ("/api/openapi.json",):
        document["paths"][path] = {"get": {"operationId": "getOpenApi", "summary": "This document", "security": [],
                                           "tags": ["meta"],
                                           "responses": {"200": {"description": "OK", "content": {
                                               "application/json": {"schema": {"type": "object"}}}}}}}
    return document


def document():
    state = current_app.extensions["bangban"]
    if "openapi" not in state.cache:
        state.cache["openapi"] = build_spec()
    return state.cache["openapi"]


@bp.route("/api/openapi.json")
def openapi():
    return jsonify(document())


@bp.route("/api/docs")
def docs():
    operations = [(path, method.upper(), op) for path, item in document()["paths"].items()
                  for method, op in item.items()]
    return render_template("api_docs.html", operations=operations, doc=document())
