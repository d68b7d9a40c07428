"""Stored files over HTTP with byte ranges (RFC 9110 section 14), so the audio element can seek.

Rules of this file:
- One range (`bytes=a-b`, `bytes=a-`, `bytes=-n`) gets 206 with Content-Range; a range that
  starts past the end (or an empty suffix) gets 416 with `Content-Range: bytes */<size>`.
- A Range header the server does not use (another unit, several ranges, a malformed value, or
  an If-Range that no longer matches) is ignored: 200 with the whole file, as the RFC allows.
- Messages are small (minutes of 8 kHz audio), so a range is read into memory.
"""

from __future__ import annotations

import re
from email.utils import formatdate
from pathlib import Path

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

_RANGE = re.compile(r"^\s*bytes\s*=\s*(\d*)\s*-\s*(\d*)\s*$", re.IGNORECASE)


def parse_range(header: str | None, size: int) -> tuple[int, int] | str | None:
    """(start, end inclusive), None to send the whole file, or "unsatisfiable"."""
    if not header:
        return None
    m = _RANGE.match(header)
    if m is None:
        return None  # other units, several ranges, garbage: ignored
    first, last = m.group(1), m.group(2)
    if not first and not last:
        return None
    if not first:
        suffix = int(last)
        if suffix == 0 or size == 0:
            return "unsatisfiable"
        return max(0, size - suffix), size - 1
    start = int(first)
    end = int(last) if last else size - 1
    if last and end < start:
        return None
    if start >= size:
        return "unsatisfiable"
    return start, min(end, size - 1)


def file_response(
    request: Request,
    path: Path,
    media_type: str,
    *,
    filename: str,
    download: bool = False,
    cache: str = "no-store",
) -> Response:
    st = path.stat()
    size = st.st_size
    etag = f'"{st.st_ino:x}-{size:x}-{int(st.st_mtime_ns):x}"'
    last_modified = formatdate(st.st_mtime, usegmt=True)
    headers = {
        "Accept-Ranges": "bytes",
        "ETag": etag,
        "Last-Modified": last_modified,
        "Cache-Control": cache,
        "Content-Disposition": f'{"attachment" if download else "inline"}; filename="{filename}"',
    }
    wanted = parse_range(request.headers.get("range"), size)
    if_range = request.headers.get("if-range")
    if wanted is not None and if_range and if_range not in (etag, last_modified):
        wanted = None
    if wanted == "unsatisfiable":
        return JSONResponse(
            {
                "error": "range-not-satisfiable",
                "detail": f"the file has {size} bytes",
            },
            status_code=416,
            headers={"Content-Range": f"bytes */{size}", "Accept-Ranges": "bytes"},
        )
    head = request.method == "HEAD"
    if wanted is None:
        body = b"" if head else path.read_bytes()
        headers["Content-Length"] = str(size)
        return Response(body, status_code=200, media_type=media_type, headers=headers)
    assert isinstance(wanted, tuple)
    start, end = wanted
    length = end - start + 1
    body = b""
    if not head:
        with path.open("rb") as fh:
            fh.seek(start)
            body = fh.read(length)
    headers["Content-Range"] = f"bytes {start}-{end}/{size}"
    headers["Content-Length"] = str(length)
    return Response(body, status_code=206, media_type=media_type, headers=headers)
