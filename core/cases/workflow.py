"""The case state machine, read from ``workflows`` metadata.

The core knows a small vocabulary of effects (clock start/pause/resume/stop,
assignee by department or joint, notices, required inputs); which states
and transitions exist, which permission each needs and which role receives
a dispatched case, is data. Whether a person may take a transition is
decided by :func:`core.permissions.can` like everything else.
"""
from __future__ import annotations

from dataclasses import dataclass

from flask_babel import lazy_gettext as _l

from .. import catalog


class TransitionError(Exception):
    """A transition that the metadata does not allow; the message is for users."""


@dataclass(frozen=True)
class Transition:
    code: str
    name: object
    sources: tuple
    target: str
    permission: str
    kinds: tuple
    requires: tuple
    assignee: str | None
    assignee_role: str | None
    clock: str | None
    assignee_only: bool
    notice: str | None

    @classmethod
    def from_data(cls, data):
        return cls(data["code"], data["name"], tuple(data["from"]), data["to"], data["permission"],
                   tuple(data.get("kinds") or ()), tuple(data.get("requires") or ()), data.get("assignee"),
                   data.get("assignee_role"), data.get("clock"), bool(data.get("assignee_only")),
                   data.get("notice"))


class Workflow:
    def __init__(self, data: dict):
        self.code = data["code"]
        self.name = data["name"]
        self.initial = data["initial"]
        self.kinds = tuple(data["kinds"])
        self.states = {s["code"]: s for s in data["states"]}
        self.transitions = {t["code"]: Transition.from_data(t) for t in data["transitions"]}

    def state_name(self, code):
        return self.states.get(code, {}).get("name", code)

    def is_final(self, state):
        return bool(self.states.get(state, {}).get("final"))

    def clock_paused(self, state):
        return self.states.get(state, {}).get("clock") == "paused"

    def available(self, case, user):
        """Transitions ``user`` may take from the case's state."""
        from ..permissions import can

        return [t for t in self.transitions.values()
                if case.state in t.sources and (not t.kinds or case.kind in t.kinds)
                and can(user, t.permission, case)]

    def assignee_roles(self):
        """Roles that receive dispatched cases in this flow."""
        return {t.assignee_role for t in self.transitions.values() if t.assignee_role}

    def check(self, case, code, user, *, open_subtask=False):
        """Return the transition or raise :class:`TransitionError`."""
        transition = self.transitions.get(code)
        if transition is None:
            raise TransitionError(_l("There is no step %(code)s in this flow.", code=code))
        if case.state not in transition.sources:
            raise TransitionError(_l("This step is not possible while the case is %(state)s.",
                                     state=_text(self.state_name(case.state))))
        if transition.kinds and case.kind not in transition.kinds:
            raise TransitionError(_l("This step is not for this kind of item."))
        from ..permissions import can

        if not can(user, transition.permission, case):
            raise TransitionError(_l("Your role may not take this step."))
        if transition.assignee_only and case.assignee_id != user.id and not open_subtask:
            raise TransitionError(_l("Only the assigned department helper may take this step."))
        return transition


def _text(value):
    from ..i18n import localized

    return localized(value)


def load(code: str) -> Workflow:
    record = catalog.current("workflows", code)
    if record is None:
        raise TransitionError(_l("The flow %(code)s is not configured.", code=code))
    return _workflow(record.id)


def _workflow(record_id) -> Workflow:
    """Workflows are immutable per record version."""
    from ..models import MetadataRecord

    return catalog.cached("workflow", record_id, lambda: Workflow(MetadataRecord.get_by_id(record_id).content))


def for_item(item: dict) -> Workflow:
    """The item's own workflow, else the first workflow for its kind."""
    if item.get("workflow"):
        return load(item["workflow"])
    for record in catalog.all_current("workflows"):
        if item["kind"] in record.content["kinds"]:
            return _workflow(record.id)
    raise TransitionError(_l("No flow is configured for items of kind %(kind)s.", kind=item["kind"]))
