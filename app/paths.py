"""Where static/ and templates/ are: inside the installed package, or beside it in a source checkout."""
from __future__ import annotations

from pathlib import Path

_HERE = Path(__file__).resolve().parent


def asset_dir(name: str) -> Path:
    installed = _HERE / name
    return installed if installed.is_dir() else _HERE.parent / name


STATIC_DIR = asset_dir("static")
TEMPLATES_DIR = asset_dir("templates")
