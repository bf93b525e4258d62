"""Who may do what to a run: the rules shared by the store, the CLI and the pages.

Every run has an owner (an email, or None for runs started before owners were recorded). Members
read every run of the lab, start runs, and cancel, delete (move to the trash) or restore their own;
admins, listed by email in $GANGLIOSIDE_ADMINS (comma-separated, any case), may do so for any run
and are the only ones who may purge a run from the trash before its time. The store enforces these
rules itself (``PermissionDenied``), so a request forged past the pages is refused all the same.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

from ..errors import GangliosideError

ADMINS_ENV_VAR = "GANGLIOSIDE_ADMINS"
TRASH_DAYS_ENV_VAR = "GANGLIOSIDE_TRASH_DAYS"
DEFAULT_TRASH_DAYS = 30.0
UNKNOWN_OWNER = "unknown (started before owners were recorded)"


class PermissionDenied(GangliosideError, PermissionError):
    """The actor may not do this to the run; the message names the run's owner."""

    def __init__(self, actor: Actor, action: str, run_id: str, owner: str | None):
        self.actor, self.action, self.run_id, self.owner = actor, action, run_id, owner
        if action == "purge":
            rule = "only an admin may purge a run before its time in the trash is over"
        elif owner is None:
            rule = f"its owner is {UNKNOWN_OWNER}, so only an admin may"
        else:
            rule = f"it belongs to {owner}; only its owner or an admin may"
        super().__init__(f"{actor.email} may not {action} run {run_id}: {rule} "
                         f"(admins are listed in {ADMINS_ENV_VAR}).")


class SettingError(GangliosideError, ValueError):
    """A setting of the environment cannot be understood."""


@dataclass(frozen=True)
class Actor:
    """Someone acting on runs: an email (the identity the rules compare), a display name, and
    whether they are an admin."""

    email: str
    name: str | None = None
    is_admin: bool = False

    @property
    def label(self) -> str:
        """How the pages name the actor: ``Alice (alice@lab.org)``, or just the email."""
        return f"{self.name} ({self.email})" if self.name and self.name != self.email \
            else self.email

    @property
    def role(self) -> str:
        return "admin" if self.is_admin else "member"


SYSTEM = Actor("retention", "automatic retention", is_admin=True)
"""The store's own housekeeping (runs past their retention, trash past its days)."""


def admins_from_env() -> frozenset[str]:
    """The admins' emails of $GANGLIOSIDE_ADMINS, casefolded."""
    return frozenset(email.strip().casefold()
                     for email in os.environ.get(ADMINS_ENV_VAR, "").split(",") if email.strip())


def actor_for(email: str, name: str | None = None, *, admin: bool | None = None) -> Actor:
    """The actor with this email; an admin when listed in $GANGLIOSIDE_ADMINS (or ``admin``)."""
    email = email.strip()
    if not email:
        raise ValueError("an actor needs an email or user name")
    is_admin = email.casefold() in admins_from_env() if admin is None else admin
    return Actor(email, name, is_admin)


def trash_days_from_env() -> float:
    """Days a deleted run stays in the trash: $GANGLIOSIDE_TRASH_DAYS, default 30."""
    text = os.environ.get(TRASH_DAYS_ENV_VAR, "").strip()
    if not text:
        return DEFAULT_TRASH_DAYS
    try:
        return max(float(text), 0.0)
    except ValueError:
        raise SettingError(f"{TRASH_DAYS_ENV_VAR} = {text!r} is not a number of days") from None


def is_owner(actor: Actor, owner: str | None) -> bool:
    return owner is not None and owner.casefold() == actor.email.casefold()


def may_manage(actor: Actor, owner: str | None) -> bool:
    """Cancel, delete or restore: the run's owner, or an admin."""
    return actor.is_admin or is_owner(actor, owner)


may_cancel = may_delete = may_restore = may_manage


def may_purge(actor: Actor) -> bool:
    """Remove a run from the trash for good before its days are over: admins only."""
    return actor.is_admin


def require(actor: Actor, action: str, run_id: str, owner: str | None) -> None:
    """PermissionDenied unless ``actor`` may ``action`` (cancel, delete, restore, purge) the run."""
    allowed = may_purge(actor) if action == "purge" else may_manage(actor, owner)
    if not allowed:
        raise PermissionDenied(actor, action, run_id, owner)
