from sqlmodel import col

from app.core.records import RecordRepository
from app.release.models import ReleaseSession

release_sessions = RecordRepository(ReleaseSession, time_column=col(ReleaseSession.performed_at))
