# Production image of the cramp-tracker API. Configure it with environment variables
# (DATABASE_URL, SECRET_KEY, ...); docker-compose.yml shows a complete setup with PostgreSQL.
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

WORKDIR /srv/cramp-tracker

RUN groupadd --system app && useradd --system --gid app --no-create-home --shell /usr/sbin/nologin app

# Dependencies first, pinned by constraints.txt, so this layer is rebuilt only when they change.
COPY pyproject.toml constraints.txt ./
RUN pip install --no-cache-dir -c constraints.txt . && rm -rf build *.egg-info

# The code runs from the working directory: `python -m app` finds app/ there, and alembic.ini
# (with migrations/) is read from there.
COPY alembic.ini ./
COPY migrations ./migrations
COPY app ./app
RUN mkdir -p data && chown app:app data

USER app

ENV APP_ENV=production \
    HOST=0.0.0.0 \
    PORT=8000

EXPOSE 8000

CMD ["python", "-m", "app", "serve"]
