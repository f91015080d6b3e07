"""Who is acting: a user with scoped roles, the system worker, or a citizen with a tracking code."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy.orm import Session

from workflow.errors import NotFound
from workflow.store.audit import ActorRef
from workflow.store.models import User
from workflow.vocabulary import Role


@dataclass(frozen=True)
class Scope:
    """One role membership: scoped to an agency, a QR team, or the whole city (both None)."""

    role: Role
    agency_id: int | None = None
    team_id: int | None = None


@dataclass(frozen=True)
class Actor:
    user_id: int | None
    name: str
    scopes: tuple[Scope, ...] = ()
    kind: str = "user"  # user / system / citizen

    @classmethod
    def system(cls) -> Actor:
        return cls(user_id=None, name="system", kind="system")

    @classmethod
    def citizen(cls) -> Actor:
        return cls(user_id=None, name="citizen", scopes=(Scope(Role.CITIZEN),), kind="citizen")

    def has_role(self, *roles: Role) -> bool:
        return any(s.role in roles for s in self.scopes)

    def scopes_for(self, role: Role) -> list[Scope]:
        return [s for s in self.scopes if s.role == role]

    def ref(self, role: str | None = None) -> ActorRef:
        if role is None:
            role = self.kind if self.kind != "user" else (
                self.scopes[0].role.value if self.scopes else "user")
        return ActorRef(user_id=self.user_id, name=self.name, role=str(role))


def actor_for_user(session: Session, user_id: int) -> Actor:
    user = session.get(User, user_id)
    if user is None or not user.active:
        raise NotFound("unknown or inactive user")
    scopes = tuple(Scope(m.role, m.agency_id, m.team_id) for m in user.memberships)
    return Actor(user_id=user.id, name=user.username, scopes=scopes)
