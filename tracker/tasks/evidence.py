"""Evidence files (佐证材料): type checked from the content, stored by content hash.

Files live outside the web root under ``UPLOAD_FOLDER/ab/<sha256>``; the name a
user gave is kept only in the database and used (sanitised) for downloads.
Images get a JPEG thumbnail beside the original.
"""
from __future__ import annotations

import hashlib
import io
import zipfile
from dataclasses import dataclass
from pathlib import Path

THUMBNAIL_SIZE = (320, 320)


class EvidenceError(ValueError):
    """The upload cannot be accepted; ``message`` is an untranslated msgid."""

    def __init__(self, message: str, **params):
        super().__init__(message % params if params else message)
        self.message, self.params = message, params


def N_(message: str) -> str:
    return message


@dataclass(frozen=True)
class Sniffed:
    content_type: str
    is_image: bool


_ZIP_KINDS = {
    "word/": "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
    "xl/": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    "ppt/": "application/vnd.openxmlformats-officedocument.presentationml.presentation",
}


def sniff(data: bytes) -> Sniffed:
    """The real type of an upload from its first bytes; anything unknown is refused."""
    head = data[:16]
    if head.startswith(b"\xff\xd8\xff"):
        return Sniffed("image/jpeg", True)
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return Sniffed("image/png", True)
    if head[:6] in (b"GIF87a", b"GIF89a"):
        return Sniffed("image/gif", True)
    if head.startswith(b"RIFF") and data[8:12] == b"WEBP":
        return Sniffed("image/webp", True)
    if data[4:8] == b"ftyp" and data[8:12] in (b"heic", b"heix", b"mif1", b"msf1", b"hevc"):
        return Sniffed("image/heic", False)  # phones' camera format; no thumbnail
    if head.startswith(b"%PDF-"):
        return Sniffed("application/pdf", False)
    if head.startswith(b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"):
        return Sniffed("application/x-ole-storage", False)  # .doc / .xls (legacy Office)
    if head.startswith(b"PK\x03\x04"):
        try:
            names = zipfile.ZipFile(io.BytesIO(data)).namelist()
        except zipfile.BadZipFile:
            raise EvidenceError(N_("The file is a damaged archive.")) from None
        if "[Content_Types].xml" in names:
            for prefix, content_type in _ZIP_KINDS.items():
                if any(name.startswith(prefix) for name in names):
                    return Sniffed(content_type, False)
    raise EvidenceError(N_("This kind of file is not accepted as evidence. Upload photos, "
                           "PDF, Word, Excel or PowerPoint files."))


def safe_download_name(name: str) -> str:
    """Strip path parts and control characters; keep Chinese letters."""
    name = name.replace("\\", "/").rsplit("/", 1)[-1]
    name = "".join(ch for ch in name if ch.isprintable() and ch not in '"<>|:*?')
    return name.strip(" .")[:200] or "evidence"


@dataclass(frozen=True)
class Stored:
    sha256: str
    stored_name: str
    content_type: str
    size: int
    has_thumbnail: bool


def store(data: bytes, folder: Path, max_bytes: int) -> Stored:
    """Check and write one upload; the same content is stored once."""
    if not data:
        raise EvidenceError(N_("The file is empty."))
    if len(data) > max_bytes:
        raise EvidenceError(N_("The file is larger than %(mb)d MB."), mb=max_bytes // 2**20)
    kind = sniff(data)
    digest = hashlib.sha256(data).hexdigest()
    stored_name = f"{digest[:2]}/{digest}"
    path = folder / stored_name
    path.parent.mkdir(parents=True, exist_ok=True)
    if not path.exists():
        tmp = path.with_suffix(".part")
        tmp.write_bytes(data)
        tmp.replace(path)
    has_thumb = kind.is_image and _thumbnail(data, path.with_suffix(".thumb.jpg"))
    return Stored(digest, stored_name, kind.content_type, len(data), has_thumb)


def _thumbnail(data: bytes, target: Path) -> bool:
    if target.exists():
        return True
    from PIL import Image, ImageOps, UnidentifiedImageError

    try:
        with Image.open(io.BytesIO(data)) as image:
            image = ImageOps.exif_transpose(image)
            image.thumbnail(THUMBNAIL_SIZE)
            image.convert("RGB").save(target, "JPEG", quality=80)
    except (UnidentifiedImageError, OSError, ValueError):
        return False  # a corrupt image is still kept as evidence, without a thumbnail
    return True


def thumbnail_path(folder: Path, stored_name: str) -> Path:
    return (folder / stored_name).with_suffix(".thumb.jpg")
