"""The join link as a QR code, drawn here (segno, pure Python): no outside service sees the link."""
from __future__ import annotations

import io

import segno


def qr_svg(text: str) -> str:
    """An SVG QR code, error correction M (readable with a smudge on the projector screen)."""
    code = segno.make(text, error="m", micro=False, boost_error=False)
    buffer = io.BytesIO()
    code.save(buffer, kind="svg", scale=4, border=4, xmldecl=False, svgns=True, title=text,
              dark="#000", light="#fff", svgclass="room-qr", lineclass=None)
    return buffer.getvalue().decode()
