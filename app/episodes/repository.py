from sqlmodel import col

from app.core.records import RecordRepository
from app.episodes.models import Episode

episodes = RecordRepository(Episode, time_column=col(Episode.started_at))
