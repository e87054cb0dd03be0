"""Every table model, imported once so Alembic's metadata sees them all."""

from app.auth.models import LoginFailure, RefreshToken
from app.core.changes import ChangeCounter
from app.episodes.models import Episode
from app.factors.models import CheckIn, CustomFactor, Exposure
from app.release.models import ReleaseSession
from app.routine.models import Routine
from app.sharing.models import AccessLogEntry, RedemptionFailure, ShareCode, TherapistLink
from app.users.models import User

__all__ = [
    "AccessLogEntry",
    "ChangeCounter",
    "CheckIn",
    "CustomFactor",
    "Episode",
    "Exposure",
    "LoginFailure",
    "RedemptionFailure",
    "RefreshToken",
    "ReleaseSession",
    "Routine",
    "ShareCode",
    "TherapistLink",
    "User",
]
