"""One Settings object for the whole app, read from the environment (and `.env` if present)."""

import os
import secrets
from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import Field, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

MIN_SECRET_BYTES = 32


class ConfigurationError(RuntimeError):
    """The process must not start with this configuration."""


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_file=".env", extra="ignore")

    app_env: Literal["development", "production"] = "development"
    database_url: str = "sqlite:///data/cramp.db"
    host: str = "127.0.0.1"
    port: int = Field(default=8000, ge=1, le=65535)
    workers: int = Field(default=1, ge=1)
    data_dir: Path = Path("data")
    secret_key: str | None = None

    access_token_minutes: int = 15
    refresh_token_days: int = 30
    login_max_failures: int = 10
    login_window_minutes: int = 15

    # Argon2id cost. Lowered only by the test suite, which hashes hundreds of passwords.
    argon2_time_cost: int = 3
    argon2_memory_kib: int = 65536

    # The pool and FastAPI's thread pool are sized together: every worker thread that runs a
    # sync endpoint can hold a connection, so no request waits on the pool while holding a thread.
    db_pool_size: int = 20
    db_connect_timeout_seconds: int = 3
    max_body_bytes: int = 1024 * 1024

    # Browser dashboards on other origins: a comma-separated list of exact origins
    # (`https://dashboard.example.org`), or `*` alone for any origin without credentials. None by default.
    cors_origins: str = ""

    @model_validator(mode="after")
    def _refuse_weak_secret_in_production(self) -> "Settings":
        weak = not self.secret_key or len(self.secret_key.encode()) < MIN_SECRET_BYTES
        if self.app_env == "production" and weak:
            raise ConfigurationError(f"SECRET_KEY of at least {MIN_SECRET_BYTES} bytes is required in production")
        return self

    @model_validator(mode="after")
    def _refuse_wildcard_among_origins(self) -> "Settings":
        origins = self.cors_origin_list
        if "*" in origins and len(origins) > 1:
            raise ConfigurationError("CORS_ORIGINS is either `*` alone or a list of exact origins")
        if any(origin != "*" and not origin.startswith(("http://", "https://")) for origin in origins):
            raise ConfigurationError("CORS_ORIGINS entries must be origins like https://dashboard.example.org")
        return self

    @property
    def cors_origin_list(self) -> list[str]:
        return [origin.strip().rstrip("/") for origin in self.cors_origins.split(",") if origin.strip()]

    @property
    def is_sqlite(self) -> bool:
        return self.database_url.startswith("sqlite")

    def signing_key(self) -> str:
        """The configured key, or in development one generated once and kept in the data folder."""
        if self.secret_key:
            return self.secret_key
        if self.app_env == "production":  # pragma: no cover - the validator already refuses this
            raise ConfigurationError("SECRET_KEY is required in production")
        return _development_key(self.data_dir)


@lru_cache
def _development_key(data_dir: Path) -> str:
    path = data_dir / "secret_key"
    data_dir.mkdir(parents=True, exist_ok=True)
    try:
        # O_EXCL: when several workers start at once, exactly one writes the key.
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return path.read_text().strip()
    key = secrets.token_urlsafe(48)
    with os.fdopen(fd, "w") as handle:
        handle.write(key)
    return key


@lru_cache
def get_settings() -> Settings:
    return Settings()
