"""Mounts every domain router under /api/v1. Routers are authenticated unless listed as public."""

from fastapi import APIRouter, Depends

from app.analysis.router import router as analysis_router
from app.auth.dependencies import current_user
from app.auth.router import public_router as auth_public_router
from app.auth.router import router as auth_router
from app.core.routing import Router
from app.episodes.router import router as episodes_router
from app.export.router import router as export_router
from app.factors.router import checkins_router, exposures_router, factors_router
from app.release.router import router as release_router
from app.routine.router import router as routine_router
from app.sharing.router import router as sharing_router
from app.sharing.therapist_router import router as therapist_router
from app.sync.router import router as sync_router
from app.trends.router import router as trends_router
from app.users.router import router as users_router

PUBLIC_ROUTERS = (auth_public_router,)
AUTHENTICATED_ROUTERS = (
    auth_router,
    users_router,
    episodes_router,
    release_router,
    routine_router,
    factors_router,
    exposures_router,
    checkins_router,
    trends_router,
    analysis_router,
    export_router,
    sharing_router,
    therapist_router,
    sync_router,
)


def build_api_router() -> APIRouter:
    api = Router(prefix="/api/v1")
    for router in PUBLIC_ROUTERS:
        api.include_router(router)
    for router in AUTHENTICATED_ROUTERS:
        api.include_router(router, dependencies=[Depends(current_user)])
    return api
