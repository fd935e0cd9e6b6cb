"""Back-office pages of the channels to devices and other systems: API
tokens (issued once, revoked, listed without their secret) and the outbox
(inspect a message, send a dead one again)."""
from __future__ import annotations

import json

from flask import abort, flash, redirect, request, url_for
from flask_admin import expose
from flask_babel import gettext as _
from flask_login import current_user

from .. import outbox, scope, tokens
from ..hardening import int_arg
from ..models import Staff
from ..permissions import administrator_kind
from .metadata import PermissionView


def _eligible_staff():
    """Active case-work staff of the administrator's county (no
    administrator role: those sign in with a second factor)."""
    staff = scope.scoped(current_user, Staff.select(), Staff).where(Staff.active).order_by(Staff.username)
    return [s for s in staff if not administrator_kind(s.role, s.county_code)]


class ApiTokenView(PermissionView):
    permission = "api_token.manage"

    def _tokens(self):
        return (tokens.ApiToken.select(tokens.ApiToken, Staff).join(Staff)
                .where(tokens.ApiToken.county_code == current_user.county_code)
                .order_by(tokens.ApiToken.id.desc()).limit(500))

    @expose("/", methods=["GET", "POST"])
    def index(self):
        issued = None
        status = 200
        if request.method == "POST":
            staff_id = int_arg("staff", 0, source=request.form)
            staff = next((s for s in _eligible_staff() if s.id == staff_id), None)
            if staff is None:
                flash(_("Choose a staff member."), "error")
                status = 400
            else:
                try:
                    issued, _row = tokens.issue(staff, request.form.get("name", ""), current_user)
                except tokens.TokenError as exc:
                    flash(str(exc), "error")
                    status = 400
        response = self.render("admin/bangban/api_tokens.html", tokens=list(self._tokens()), staff=_eligible_staff(),
                               issued=issued)
        return response, status

    @expose("/<int:token_id>/revoke", methods=["POST"])
    def revoke(self, token_id):
        row = self._tokens().where(tokens.ApiToken.id == token_id).first()
        if row is None:
            abort(404)
        if tokens.revoke(row, current_user):
            flash(_("The token is revoked."), "success")
        return redirect(url_for(".index"))


class OutboxView(PermissionView):
    permission = "outbox.manage"

    def _messages(self):
        return outbox.OutboxMessage.select().where(outbox.OutboxMessage.county_code == current_user.county_code)

    @expose("/")
    def index(self):
        state = request.args.get("state") or ""
        query = self._messages()
        if state in outbox.STATES:
            query = query.where(outbox.OutboxMessage.state == state)
        messages = list(query.order_by(outbox.OutboxMessage.id.desc()).limit(200))
        counts = {s: self._messages().where(outbox.OutboxMessage.state == s).count() for s in outbox.STATES}
        return self.render("admin/bangban/outbox.html", messages=messages, state=state, counts=counts,
                           targets=outbox.targets())

    @expose("/<int:message_id>")
    def details(self, message_id):
        message = self._messages().where(outbox.OutboxMessage.id == message_id).first()
        if message is None:
            abort(404)
        shown = {k: ("***" if k.endswith("_enc") else v) for k, v in (message.payload or {}).items()}
        return self.render("admin/bangban/outbox_message.html", message=message, targets=outbox.targets(),
                           payload=json.dumps(shown, ensure_ascii=False, indent=2, sort_keys=True))

    @expose("/<int:message_id>/retry", methods=["POST"])
    def retry(self, message_id):
        message = self._messages().where(outbox.OutboxMessage.id == message_id).first()
        if message is None:
            abort(404)
        if outbox.retry(message, current_user):
            flash(_("The message will be sent again."), "success")
        else:
            flash(_("The message was already delivered."), "error")
        return redirect(url_for(".details", message_id=message.id))
