"""The HTML pages. They are shells: everything they show comes from /api/v1."""
from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse
from fastapi.templating import Jinja2Templates

from .. import __version__
from ..paths import TEMPLATES_DIR

router = APIRouter(include_in_schema=False)
templates = Jinja2Templates(directory=str(TEMPLATES_DIR))


@router.get("/", response_class=HTMLResponse)
async def explorer(request: Request) -> HTMLResponse:
    return templates.TemplateResponse(request, "explorer.html", {"version": __version__})


@router.get("/network", response_class=HTMLResponse)
async def network(request: Request) -> HTMLResponse:
    return templates.TemplateResponse(request, "network.html", {"version": __version__})


@router.get("/descent", response_class=HTMLResponse)
async def descent(request: Request) -> HTMLResponse:
    return templates.TemplateResponse(request, "descent.html", {"version": __version__})
