"""Text files sent to the API: as the request body itself (``text/csv``) or as the
``file`` field of a form, read at most one byte past a limit and decoded as UTF-8."""

from __future__ import annotations

from fastapi import Request
from starlette.datastructures import UploadFile
from starlette.exceptions import HTTPException as StarletteHTTPException

from stewardship.core.errors import InvalidInput, PayloadTooLarge

CSV_TYPES = ("text/csv", "text/plain", "application/csv", "application/vnd.ms-excel")


def csv_request_body(example: str) -> dict[str, object]:
    """The OpenAPI request body of an endpoint that takes a CSV file."""
    return {
        "required": True,
        "content": {
            "text/csv": {"schema": {"type": "string"}, "example": example},
            "multipart/form-data": {"schema": {
                "type": "object", "required": ["file"],
                "properties": {"file": {"type": "string", "format": "binary",
                                        "description": "The CSV file, UTF-8"}}}},
        },
    }


async def read_text_upload(request: Request, *, max_bytes: int, too_large: str,
                           types: tuple[str, ...] = CSV_TYPES) -> str:
    """The text of a body of one of ``types``, or of the ``file`` field of a form;
    PayloadTooLarge saying ``too_large`` past ``max_bytes``."""
    content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if content_type == "multipart/form-data":
        try:
            form = await request.form(max_files=1, max_fields=1)
        except StarletteHTTPException as exc:  # a form Starlette cannot read (400)
            raise InvalidInput(f"the form cannot be read: {exc.detail}; send the CSV file "
                               "alone, in the field 'file'", field="file") from None
        upload = form.get("file")
        if not isinstance(upload, UploadFile):
            raise InvalidInput("send the CSV file in the form field 'file'", field="file")
        data = await upload.read(max_bytes + 1)
    elif content_type in types:
        chunks = bytearray()
        async for chunk in request.stream():
            chunks += chunk
            if len(chunks) > max_bytes:
                raise PayloadTooLarge(too_large, field="file")
        data = bytes(chunks)
    else:
        raise InvalidInput("send the file as text/csv, or as multipart/form-data in the "
                           f"field 'file', not {content_type or 'without a content type'}",
                           field="content-type")
    if len(data) > max_bytes:
        raise PayloadTooLarge(too_large, field="file")
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise InvalidInput("the file is not UTF-8 text: save it as 'CSV UTF-8'",
                           field="file") from None
