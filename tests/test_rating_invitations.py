"""The ``rating_invitations`` job: one SMS invitation to rate per finished,
unrated case once the county's delay (default 3 days; 乌审旗's rule set names
none) has passed, at most once per case, on SQLite and PostgreSQL. The
cases are made here and the expected ones listed by hand."""
from __future__ import annotations

import datetime

from core import outbox, personal, registry
from core.cases.models import Case
from core.ratings import service as ratings
from tests.test_accounts import _case
from tests.test_outbox import _set

TODAY = datetime.date.today()


def _finished(n, days_ago, state="archived"):
    case = _case("galutu.agent", n, TODAY - datetime.timedelta(days=days_ago + 1))
    Case.update(finished_on=TODAY - datetime.timedelta(days=days_ago), state=state).where(Case.id == case.id).execute()
    return Case.get_by_id(case.id)


def _invitations():
    return [m for m in outbox.OutboxMessage.select().order_by(outbox.OutboxMessage.id)
            if m.topic == "sms.rating_invitation"]


def test_the_job_invites_each_finished_unrated_case_once(demo_app):
    app = demo_app
    with app.app_context():
        job = registry.jobs()["rating_invitations"]
        assert job["every"] == 24 * 3600
        # no SMS gateway set for the county: nothing is written
        due = _finished(1, 5)
        assert job["run"](app) == {"invited": 0, "cases": 0}
        assert _invitations() == []
        _set("core.channels", "sms_url", "http://127.0.0.1:9/sms")
        exactly = _finished(2, 3)                       # the delay is 3 days: due today
        _finished(3, 2)                                 # finished 2 days ago: not yet
        rated = _finished(4, 6)
        ratings.record(rated, "completion", 5, channel="paper", notify=False, check_stage=False)
        acceptance_only = _finished(5, 6)
        ratings.record(acceptance_only, "acceptance", 4, channel="paper", notify=False, check_stage=False)
        _finished(6, 6, state="declined")               # declined: nothing to rate
        _finished(7, 60)                                # too long ago (3 + 30 days)
        first = job["run"](app)
        assert first == {"invited": 3, "cases": 3}
        sent = _invitations()
        assert sorted(m.payload["case_number"] for m in sent) == sorted(
            [due.number, exactly.number, acceptance_only.number])
        for m in sent:
            assert m.target == "sms" and m.idempotency_key == f"sms:rating_invitation:{m.payload['case_number']}"
            assert personal.decrypt(m.payload["phone_enc"], m.payload["phone_context"]) \
                == Case.get(Case.number == m.payload["case_number"]).phone()
        # a second round the same day, and one the day after: nothing again
        assert job["run"](app) == {"invited": 0, "cases": 3}
        from core.builtins.channels import rating_invitations

        assert rating_invitations(app, TODAY + datetime.timedelta(days=1)) == {"invited": 1, "cases": 4}
        assert len(_invitations()) == 4  # the case finished 2 days ago, now due
