"""Checks uploaded files against a form's rules, and describes them for the log."""

import hashlib
import re
import unicodedata

from formmail.errors import FieldError

MAX_FILENAME = 100
# What each allowed extension must look like inside, where a type has a signature: a file
# named .pdf that is not a PDF is refused (a common way to smuggle an executable).
SIGNATURES = {
    "pdf": (b"%PDF-",), "png": (b"\x89PNG\r\n\x1a\n",), "jpg": (b"\xff\xd8\xff",),
    "jpeg": (b"\xff\xd8\xff",), "gif": (b"GIF87a", b"GIF89a"),
    "docx": (b"PK\x03\x04",), "xlsx": (b"PK\x03\x04",), "pptx": (b"PK\x03\x04",), "zip": (b"PK\x03\x04",),
}
MEDIA_TYPES = {
    "pdf": "application/pdf", "png": "image/png", "jpg": "image/jpeg", "jpeg": "image/jpeg",
    "gif": "image/gif", "txt": "text/plain", "csv": "text/csv",
    "docx": "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    "pptx": "application/vnd.openxmlformats-officedocument.presentationml.presentation",
    "zip": "application/zip",
}


def safe_filename(name):
    """The browser's file name reduced to a plain base name that is safe in a mail header."""
    name = unicodedata.normalize("NFC", name.replace("\\\\", "/").rsplit("/", 1)[-1])
    name = re.sub(r"[\x00-\x1f\x7f-\x9f\u2028\u2029\"<>|:*?%=]", "_", name).strip(" .")
    if len(name) > MAX_FILENAME:
        stem, dot, ext = name.rpartition(".")
        name = (stem[: MAX_FILENAME - len(ext) - 1] + dot + ext) if dot else name[:MAX_FILENAME]
    return name or "file"


def check_uploads(form, uploads):
    """(accepted [(field, filename, media type, bytes)], FieldErrors) for a form's uploads."""
    accepted, errors = [], []
    for upload in uploads:
        if upload.field not in form.attachments:
            errors.append(FieldError(upload.field, "upload_refused"))
            continue
        name = safe_filename(upload.filename)
        ext = name.rpartition(".")[2].lower() if "." in name else ""
        if ext not in form.attachment_types:
            errors.append(FieldError(upload.field, "upload_type", types=", ".join(form.attachment_types)))
        elif len(upload.data) > form.max_attachment_size:
            errors.append(FieldError(upload.field, "upload_size", max=form.max_attachment_size))
        elif ext in SIGNATURES and not upload.data.startswith(SIGNATURES[ext]):
            errors.append(FieldError(upload.field, "upload_type", types=", ".join(form.attachment_types)))
        else:
            accepted.append((upload.field, name, MEDIA_TYPES.get(ext, "application/octet-stream"), upload.data))
    return accepted, errors


def describe(accepted):
    """Extras for the log and the mail body: the file's name, size and SHA-256, not its bytes."""
    return [(f"attachment {field}", f"{name} ({len(data):,} bytes, sha256 {hashlib.sha256(data).hexdigest()[:16]})")
            for field, name, _, data in accepted]
