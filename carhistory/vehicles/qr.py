"""QR codes that lead from a printed report back to the live one, drawn on the server as SVG.

A printed report is a snapshot; the QR code lets whoever holds the paper open the current report
(and its proofs) on a phone, with no external QR service ever seeing the VIN.
"""

import io

import segno

# Medium error correction survives a crease or a smudge on paper without making the code dense.
ERROR_CORRECTION = "m"


def qr_svg(*, url: str, scale: int = 4) -> str:
    """A standalone SVG document (with XML declaration) encoding `url`."""
    buffer = io.BytesIO()
    segno.make(url, error=ERROR_CORRECTION).save(
        buffer, kind="svg", scale=scale, title=url, svgclass="qr-code"
    )
    return buffer.getvalue().decode("utf-8")


def qr_svg_inline(*, url: str, scale: int = 3) -> str:
    """An `<svg>` element encoding `url`, for embedding in an HTML page."""
    return segno.make(url, error=ERROR_CORRECTION).svg_inline(scale=scale, svgclass="qr-code")
