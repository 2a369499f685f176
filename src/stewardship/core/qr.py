"""QR codes of public addresses: inline SVG for pages, PNG for printed documents. Every
page and PDF that prints a verification address draws its code here, so that one scan
behaves the same on a certificate and on a CoC document."""

from __future__ import annotations

import io

import segno


def qr_png(url: str, scale: int = 8) -> bytes:
    buffer = io.BytesIO()
    segno.make(url, error="m").save(buffer, kind="png", scale=scale, border=2)
    return buffer.getvalue()


def qr_svg(url: str) -> str:
    """The QR code as an inline ``<svg>`` element (no XML declaration)."""
    return str(segno.make(url, error="m").svg_inline(
        scale=4, border=2, title=f"QR code: {url}", svgclass="qr-code"))
