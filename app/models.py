"""Every table model, imported once so Alembic's metadata sees them all."""

from app.auth.models import LoginFailure, RefreshToken
from app.episodes.models import Episode
from app.release.models import ReleaseSession
from app.users.models import User

__all__ = ["Episode", "LoginFailure", "RefreshToken", "ReleaseSession", "User"]
