"""Channels to devices and other systems: the token API for the mobile
client (with its OpenAPI document), and the outbox with its three built-in
targets: the one-network platform's comprehensive window (accepted cases),
the 好差评 system (ratings) and an SMS gateway (acceptance, completion,
invitation to rate, one-time codes). Their addresses and keys are plugin
settings (``core.channels``: ``one_network_url`` …), set per county in the
back office; a county without a URL sends nothing to that target."""
from __future__ import annotations

from flask_babel import lazy_gettext as _l

from ..hookspecs import hookimpl

TARGETS = {
    "one_network": ({"zh": "一网通办平台（综合窗口）", "mn": "一网通办平台（综合窗口）",
                     "en": "One-network platform (comprehensive window)"}, ("case.accepted",)),
    "haochaping": ({"zh": "好差评系统", "mn": "好差评系统", "en": "好差评 (rating) system"}, ("rating.recorded",)),
    "sms": ({"zh": "短信网关", "mn": "短信网关", "en": "SMS gateway"},
            ("sms.accepted", "sms.completed", "sms.rating_invitation", "sms.code")),
}
SETTING_WORDS = {"url": {"zh": "地址", "mn": "地址", "en": "URL"}, "key": {"zh": "密钥", "mn": "密钥", "en": "key"}}
#: transition code -> SMS topic sent to the applicant
SMS_ON = {"accept": "sms.accepted", "tolerant_accept": "sms.accepted", "complete": "sms.completed",
          "finish_instant": "sms.completed", "archive": "sms.rating_invitation"}
ACCEPTED = ("accept", "tolerant_accept")


@hookimpl
def register_plugin_settings(register):
    for code, (label, _topics) in TARGETS.items():
        for name, word in SETTING_WORDS.items():
            register(f"{code}_{name}", default="", type="text",
                     label={lang: f"{text} · {word[lang]}" for lang, text in label.items()})


def _send_sms(message):
    """The SMS gateway's body: the applicant's phone, decrypted only now."""
    from .. import outbox, personal

    url = outbox.setting(outbox.targets()["sms"], "url", message.county_code)
    if not url:
        raise outbox.DeliveryError("no URL is set for target 'sms'")
    payload = dict(message.payload)
    phone = personal.decrypt(payload.pop("phone_enc", None), payload.pop("phone_context", "outbox.phone"))
    params = {k: v for k, v in payload.items() if not k.endswith("_enc")}
    params.update({k[:-4]: personal.decrypt(v, f"outbox.{k[:-4]}") for k, v in payload.items() if k.endswith("_enc")})
    body = {"topic": message.topic, "phone": phone, "params": params}
    return outbox.http_post(url, outbox.setting(outbox.targets()["sms"], "key", message.county_code), message,
                            body=body)


@hookimpl
def register_outbox_targets(register):
    for code, (label, topics) in TARGETS.items():
        register(code, label=label, topics=topics, send=_send_sms if code == "sms" else None)


def _last_event_id(case):
    from ..cases.models import CaseEvent

    row = (CaseEvent.select(CaseEvent.id)
           .where((CaseEvent.case == case.id) & (CaseEvent.county_code == case.county_code))
           .order_by(CaseEvent.id.desc()).first())
    return row.id if row else 0


def _case_facts(case):
    """What another system needs of a case: no name, no ID number, no phone."""
    return {"case_number": case.number, "item_code": case.item_code, "item_version": case.item_version,
            "state": case.state, "township_code": case.township_code, "village_code": case.village_code,
            "accepted_on": case.accepted_on.isoformat() if case.accepted_on else None,
            "due_day": case.due_day.isoformat() if case.due_day else None}


@hookimpl
def case_moved(case, transition, from_state, actor):
    from .. import outbox

    event = _last_event_id(case)
    if transition.code in ACCEPTED:
        outbox.enqueue("one_network", "case.accepted", _case_facts(case), case.county_code,
                       key=f"one_network:{case.number}:{event}")
    topic = SMS_ON.get(transition.code)
    if topic:
        outbox.enqueue("sms", topic, {"phone_enc": case.applicant_phone, "phone_context": "cases.applicant_phone",
                                      "case_number": case.number, "item_code": case.item_code},
                       case.county_code, key=f"sms:{case.number}:{event}")


@hookimpl
def rating_recorded(case, rating, comment, channel):
    from .. import outbox, personal

    outbox.enqueue("haochaping", "rating.recorded",
                   {**_case_facts(case), "rating": rating, "channel": channel,
                    "comment": personal.masked_text(comment or "", "cases.rating_comment")},
                   case.county_code, key=f"haochaping:{case.number}:{rating}:{_last_event_id(case)}")


@hookimpl
def register_jobs(register):
    from .. import outbox

    register("outbox", label=_l("Deliver the outbox"), run=lambda app: outbox.run(), every=60)
    register("rating_invitations", label=_l("Invite applicants to rate finished cases by SMS"),
             run=rating_invitations, every=24 * 3600)


#: a case finished longer ago than the delay plus this many days is not invited any more
INVITE_WINDOW_DAYS = 30


def rating_invitations(app=None, day=None):
    """One SMS invitation to rate (``sms.rating_invitation``) per case
    finished and still not rated at completion ``rating_invite_after_days``
    (the county's rule set) or more days ago, and at most
    ``INVITE_WINDOW_DAYS`` more (a late round catches up, a years-old
    history is not texted): the list of :func:`core.ratings.service.invitations`.
    The idempotency key ``sms:rating_invitation:<case number>`` makes it
    once per case whatever the rounds. Acceptance and completion messages
    are sent by the case's own steps (``case_moved``), not here. A county
    without an SMS gateway URL enqueues nothing."""
    import datetime

    from .. import outbox
    from ..cases.models import Case
    from ..db import transaction
    from ..models import Region
    from ..ratings import service as ratings

    day = day or ratings.today()
    sms = outbox.targets()["sms"]
    counts = {"invited": 0, "cases": 0}
    for (county,) in Region.select(Region.code).where(Region.level == "county").order_by(Region.code).tuples():
        if not sms.is_enabled(county):
            continue
        oldest = day - datetime.timedelta(days=ratings.invite_after_days(county) + INVITE_WINDOW_DAYS)
        cases = Case.select().where((Case.county_code == county) & (Case.finished_on >= oldest)
                                    & (Case.applicant_phone != ""))
        for case in ratings.invitations(cases, county, day):
            counts["cases"] += 1
            with transaction():
                sent = outbox.enqueue("sms", "sms.rating_invitation",
                                      {"phone_enc": case.applicant_phone, "phone_context": "cases.applicant_phone",
                                       "case_number": case.number, "item_code": case.item_code},
                                      county, key=f"sms:rating_invitation:{case.number}")
            counts["invited"] += sent is not None
    return counts


@hookimpl
def register_commands(cli):
    import click

    @cli.group("outbox")
    def outbox_group():
        """The outbox: messages to other systems."""

    @outbox_group.command("run")
    @click.option("--limit", default=50, show_default=True, type=int, help="Messages claimed per round.")
    @click.pass_obj
    def run(ctx, limit):
        """Deliver what is due (for cron or a systemd timer; several at once are safe)."""
        from .. import outbox

        with ctx.app.app_context():
            counts = outbox.run(limit=limit)
        click.echo(" ".join(f"{k}={v}" for k, v in counts.items()))

    @outbox_group.command("status")
    @click.pass_obj
    def status(ctx):
        """How many messages wait, were delivered, are dead."""
        from .. import outbox

        with ctx.app.app_context():
            counts = outbox.counts()
        click.echo(" ".join(f"{k}={counts.get(k, 0)}" for k in outbox.STATES))


@hookimpl
def register_blueprints(register):
    from ..api import bp
    from ..online_views import bp as online_bp

    register(bp)
    register(online_bp)


@hookimpl
def register_admin_views(register):
    from ..admin_views.channels import ApiTokenView, OutboxView

    register(ApiTokenView(name=_l("API tokens"), category=_l("Staff"), endpoint="api_tokens",
                          url="/admin/api-tokens"))
    register(OutboxView(name=_l("Outbox"), category=_l("Settings"), endpoint="outbox_admin", url="/admin/outbox"))


@hookimpl
def menu_links():
    from flask_babel import lazy_gettext as _l

    from ..permissions import menu_links_for

    return menu_links_for([("online_request.handle", "online.list_requests", _l("Online requests"))])


@hookimpl
def demo_cases_loaded(county):
    from ..channels_demo import load_demo_messages, load_demo_request

    load_demo_request(county)
    load_demo_messages(county)
