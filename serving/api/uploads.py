"""Uploaded manuals onto disk: checked names, checked sizes, one folder per job.

A client chooses the file name it sends, so the name is never used as a path: only its last
component is kept, reduced to letters, digits, dot, dash, underscore and space, and the file
is written inside ``DATA_DIR/uploads/<job id>/``, never anywhere else. ``../../etc/x.pdf``
becomes ``x.pdf`` in the job's folder; a NUL, a drive letter or an absolute path changes
nothing either.
"""

from __future__ import annotations

import re
import shutil
import unicodedata
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from maint.settings import Settings
from serving.api.errors import ApiError

MAX_NAME_CHARS = 120
_UNSAFE = re.compile(r"[^A-Za-z0-9._ -]+")


def safe_name(raw: str | None) -> str:
    """A file name that is one plain path component, keeping the extension readable."""
    name = unicodedata.normalize("NFKC", raw or "").replace("\x00", "")
    name = re.split(r"[\\/]", name)[-1]  # the last component, whichever separator
    name = _UNSAFE.sub("_", name).strip(" .")  # no leading dots: no '..', no hidden files
    name = re.sub(r"_+", "_", name)
    if len(name) > MAX_NAME_CHARS:
        stem, dot, ext = name.rpartition(".")
        keep = MAX_NAME_CHARS - len(ext) - 1
        name = f"{stem[:keep]}.{ext}" if dot and 0 < len(ext) < 12 else name[:MAX_NAME_CHARS]
    return name or "upload"


def extension(name: str) -> str:
    return Path(name).suffix.lower()


@dataclass
class Upload:
    """One file of a request: what the client sent, and how big it is."""

    uploaded_as: str
    size: int
    file: BinaryIO


@dataclass
class Stored:
    name: str
    uploaded_as: str
    path: Path
    bytes: int


def check(uploads: list[Upload], settings: Settings) -> None:
    """Refuse the whole request (nothing is stored) when any file breaks a limit."""
    if not uploads:
        raise ApiError(400, "no files: send one or more manuals as 'files'", "no_files")
    if len(uploads) > settings.max_upload_files:
        raise ApiError(
            400,
            f"{len(uploads)} files in one request; at most {settings.max_upload_files} "
            "(MAINT_MAX_UPLOAD_FILES): send them in several requests",
            "too_many_files",
            param="files",
        )
    allowed = settings.upload_extensions
    wrong = [u.uploaded_as for u in uploads if extension(safe_name(u.uploaded_as)) not in allowed]
    if wrong:
        raise ApiError(
            415,
            f"not a manual format: {', '.join(repr(w) for w in wrong[:5])}; accepted file "
            f"types: {', '.join(allowed)} (MAINT_UPLOAD_EXTENSIONS)",
            "unsupported_file_type",
            param="files",
        )
    limit = settings.max_file_mb * 1024 * 1024
    big = [u for u in uploads if u.size > limit]
    if big:
        names = ", ".join(f"{u.uploaded_as!r} ({u.size / 1e6:.1f} MB)" for u in big[:5])
        raise ApiError(
            413,
            f"over the {settings.max_file_mb:g} MB limit per file (MAINT_MAX_FILE_MB): {names}",
            "file_too_large",
            param="files",
        )


def store(uploads: list[Upload], folder: Path) -> list[Stored]:
    """Write the files into ``folder`` (created); two files of one name get -2, -3, ...
    On any failure (a full disk) the folder goes again: no job, no half-stored batch."""
    folder.mkdir(parents=True, exist_ok=False)
    try:
        return _write(uploads, folder)
    except BaseException:
        shutil.rmtree(folder, ignore_errors=True)
        raise


def _write(uploads: list[Upload], folder: Path) -> list[Stored]:
    root = folder.resolve()
    stored: list[Stored] = []
    taken: set[str] = set()
    for upload in uploads:
        name = safe_name(upload.uploaded_as)
        stem, ext = name[: -len(extension(name)) or None], extension(name)
        n = 1
        while name.lower() in taken:
            n += 1
            name = f"{stem}-{n}{ext}"
        taken.add(name.lower())
        path = (folder / name).resolve()
        if path.parent != root:  # cannot happen with safe_name; refuse rather than trust
            raise ApiError(400, "invalid file name", "invalid_file_name", param="files")
        upload.file.seek(0)
        with open(path, "xb") as out:
            shutil.copyfileobj(upload.file, out, 1024 * 1024)
        stored.append(Stored(name, upload.uploaded_as, path, path.stat().st_size))
    return stored
