"""Imported image sets: the images a method EvalSite does not run made for a study's prompts, one per prompt, read
from a folder or a zip archive (a path or an upload) so that a study can set that method beside its generated
conditions. This module only reads and checks: it touches no database and writes no file.

Matching a file to a prompt, by the file's base name (folders inside the set do not matter):

- only ``.png``, ``.jpg``, ``.jpeg`` and ``.webp`` files (any case) can match; any other file is extra. Hidden files
  and folders (a name starting with "."), ``__MACOSX/``, ``Thumbs.db`` and ``desktop.ini`` are ignored;
- a stem of digits, with leading zeros or not, optionally after ``prompt``, ``item``, ``image`` or ``img`` and one
  of "-", "_", " ", "." (``7.png``, ``007.jpg``, ``prompt-7.png``, ``Item_07.webp``), names prompt 7, the 1-based
  position in ``prompts``; a number no prompt has is extra, and such a stem is never read as a prompt's text;
- any other stem names the prompt whose text it equals after ``text_key`` (Unicode NFKC, case folded, each run of
  characters that are not letters or digits one separator, none at the ends: ``A red cat!`` = ``a-red-cat``).
  A stem of at least ``LONG_NAME_BYTES`` bytes in UTF-8 also names the prompt whose key begins with it, since file
  systems cut names at 255 bytes. A stem that fits several prompts alike names none and is reported as unusable.

Every problem is reported at once in an ``ImageSetReport``; a source that cannot be read as a whole (no such path,
not a zip archive, too many files) raises one ValidationError.
"""

import io
import os
import re
import unicodedata
import zipfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import BinaryIO

import numpy as np
from django.core.exceptions import ValidationError
from PIL import Image, ImageOps, UnidentifiedImageError

from generation.storage import encode_png

IMAGE_EXTENSIONS = (".png", ".jpg", ".jpeg", ".webp")
IMAGE_FORMATS = ("PNG", "JPEG", "WEBP")  # Pillow opens no other format: nothing else of its many readers is reached
NUMBER_PATTERN = re.compile(r"(?:(?:prompt|item|image|img)[-_ .]?)?([0-9]+)", re.IGNORECASE)
JUNK_NAMES = frozenset({"__macosx", "thumbs.db", "desktop.ini"})  # and every name starting with "."
MAX_FILE_BYTES = 50 * 1024 * 1024  # one file, uncompressed: a guard against zip bombs
MAX_FILES = 20_000  # files in one set (folders and ignored files aside in a folder; every member in a zip)
LONG_NAME_BYTES = 200  # a stem this long (UTF-8) may have been cut by the file system; it may match a prompt's start
MAX_NAMED = 10  # names listed per problem in ``summary``; the rest are counted


@dataclass(frozen=True)
class ImageSetReport:
    """What a set holds for each prompt. Prompts are numbered from 1 (position + 1); files are named by their path
    inside the set, with "/" between folders.

    A prompt is in exactly one place: ``images`` (one usable file), ``missing`` (no file), ``duplicates`` (several
    files; none is read), or its one file is in ``unreadable``. Extra files are an error too (``ok`` is false): a
    misnamed file is usually a missing one.
    """

    images: dict[int, bytes]  # prompt number -> PNG bytes, re-encoded with no metadata
    missing: tuple[int, ...]  # prompt numbers with no file
    extra: tuple[str, ...]  # files that match no prompt
    unreadable: tuple[tuple[str, str], ...]  # (file, why): not decodable, wrong size, too big, unsafe path, ambiguous
    duplicates: tuple[tuple[int, tuple[str, ...]], ...]  # (prompt number, its files) for prompts with several

    @property
    def ok(self) -> bool:
        """True when every prompt has its image and no file was left over."""
        return not (self.missing or self.extra or self.unreadable or self.duplicates)

    def summary(self) -> str:
        """One message naming each kind of problem, with up to ``MAX_NAMED`` names each and their counts."""
        parts = []
        if self.missing:
            parts.append(f"{_count(self.missing, 'prompt has', 'prompts have')} no image ({_list(self.missing)})")
        if self.duplicates:
            named = [f"{number}: {', '.join(files)}" for number, files in self.duplicates]
            parts.append(f"{_count(named, 'prompt has', 'prompts have')} several files ({_list(named, '; ')})")
        if self.unreadable:
            named = [f"{name}: {why}" for name, why in self.unreadable]
            parts.append(f"{_count(named, 'file', 'files')} cannot be used ({_list(named, '; ')})")
        if self.extra:
            parts.append(f"{_count(self.extra, 'file matches', 'files match')} no prompt ({_list(self.extra)})")
        if not parts:
            return f"Every prompt has its image ({_count(self.images, 'image', 'images')})."
        return "; ".join(parts) + "."


def _count(items, one: str, many: str) -> str:
    return f"{len(items)} {one if len(items) == 1 else many}"


def _list(items, separator: str = ", ") -> str:
    names = [str(item) for item in items]
    shown = separator.join(names[:MAX_NAMED])
    return shown + (f"{separator}… and {len(names) - MAX_NAMED} more" if len(names) > MAX_NAMED else "")


def _size(count: int) -> str:
    return f"{count / 2**20:.3g} MB" if count >= 2**20 else f"{count:,} bytes"


def text_key(text: str) -> str:
    """``text`` as a file name is compared with a prompt: NFKC, case folded, runs of letters and digits joined by
    "_" (so "-", "_", spaces and punctuation between words are one and the same)."""
    return "_".join(re.findall(r"[^\W_]+", unicodedata.normalize("NFKC", text).casefold()))


# Sources ------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _File:
    name: str  # path inside the set, "/" between folders
    size: int  # bytes, uncompressed
    read: Callable[[], bytes]


def _is_junk(parts: Sequence[str]) -> bool:
    return any(part.startswith(".") or part.casefold() in JUNK_NAMES for part in parts)


def _too_many(where: str) -> ValidationError:
    return ValidationError(
        f"{where} holds more than {MAX_FILES:,} files; an image set holds one image per prompt, so at most "
        f"{MAX_FILES:,} are read."
    )


def _read_path(path: Path) -> bytes:
    with path.open("rb") as handle:
        return handle.read(MAX_FILE_BYTES + 1)


def _folder_files(root: Path) -> list[_File]:
    files = []
    for folder, subfolders, names in os.walk(root):
        subfolders[:] = sorted(name for name in subfolders if not _is_junk([name]))
        for name in sorted(names):
            path = Path(folder, name)
            if _is_junk([name]) or not path.is_file():
                continue
            if len(files) == MAX_FILES:
                raise _too_many(f"The folder {root}")
            files.append(
                _File(path.relative_to(root).as_posix(), path.stat().st_size, lambda path=path: _read_path(path))
            )
    return files


def _unsafe(parts: Sequence[str], name: str) -> bool:
    """An absolute path, a drive letter or a ".." step: a member that would be written outside a folder it is
    extracted into (zip slip). EvalSite extracts nothing, but such an archive is broken or hostile."""
    return name.startswith("/") or bool(re.match(r"[A-Za-z]:", name)) or ".." in parts


def _archive_files(archive: zipfile.ZipFile, where: str) -> tuple[list[_File], list[tuple[str, str]]]:
    """The archive's members as files, and (member, why) for each member with an unsafe path."""
    members = [info for info in archive.infolist() if not info.is_dir()]
    if len(members) > MAX_FILES:
        raise _too_many(where)
    files, unsafe = [], []
    for info in members:
        name = info.filename.replace("\\", "/")
        parts = [part for part in name.split("/") if part]
        if _unsafe(parts, name):
            unsafe.append((name, "its path leaves the archive's folder (absolute or with ..); it was not read"))
        elif parts and not _is_junk(parts):
            files.append(_File("/".join(parts), info.file_size, lambda info=info: archive.read(info)))
    return files, unsafe


def _open_archive(source: str | Path | BinaryIO, *, where: str, not_zip: str) -> zipfile.ZipFile:
    try:
        return zipfile.ZipFile(source)
    except (zipfile.BadZipFile, EOFError, ValueError):
        raise ValidationError(not_zip) from None
    except OSError as exc:
        raise ValidationError(f"{where} cannot be read: {exc}.") from None


# Matching and decoding ----------------------------------------------------------------------------


def _prompts_named(stem: str, *, count: int, keys: dict[str, list[int]]) -> list[int]:
    """The prompt numbers a file's stem names: one, none, or several when its name fits several prompts alike."""
    if number := NUMBER_PATTERN.fullmatch(stem):
        digits = number.group(1).lstrip("0")
        return [int(digits)] if digits and len(digits) <= len(str(count)) and int(digits) <= count else []
    key = text_key(stem)
    if not key:
        return []
    if key in keys:
        return keys[key]
    if len(stem.encode()) >= LONG_NAME_BYTES:  # a name the file system may have cut
        return sorted(number for prompt, numbers in keys.items() if prompt.startswith(key) for number in numbers)
    return []


def _flatten(image: Image.Image) -> Image.Image:
    """RGB, with any transparency composited on white; 16-bit grey scaled to 8 bits rather than clipped."""
    if image.mode in ("I", "I;16", "I;16B", "I;16L", "I;16N"):
        values = np.asarray(image)
        grey = Image.fromarray(np.clip(np.rint(values / 257), 0, 255).astype(np.uint8))
        if isinstance(transparency := image.info.get("transparency"), int):
            grey.putalpha(Image.fromarray(np.where(values == transparency, 0, 255).astype(np.uint8)))
        image = grey
    if image.mode in ("RGBA", "RGBa", "LA", "La", "PA") or "transparency" in image.info:
        white = Image.new("RGBA", image.size, (255, 255, 255, 255))
        white.alpha_composite(image.convert("RGBA"))
        image = white
    return image.convert("RGB")


def _decode(data: bytes, *, size: tuple[int, int] | None) -> tuple[bytes | None, str]:
    """(PNG bytes, "") for a usable image, else (None, why)."""
    try:
        with Image.open(io.BytesIO(data), formats=IMAGE_FORMATS) as opened:
            limit = Image.MAX_IMAGE_PIXELS
            if limit and opened.width * opened.height > limit:
                return None, (
                    f"is {opened.width}×{opened.height}, more than {limit:,} pixels "
                    "(Pillow's guard against decompression bombs)"
                )
            frames = getattr(opened, "n_frames", 1)
            if frames > 1 and opened.format != "MPO":  # an MPO's first frame is its image; the others are extras
                return None, f"is an animation of {frames} frames; a still image is needed"
            opened.load()
            image = ImageOps.exif_transpose(opened)  # as a viewer shows it: the orientation tag is dropped below
            rgb = _flatten(image)
    except Image.DecompressionBombError as exc:
        return None, f"is too large to decode safely ({exc})"
    except UnidentifiedImageError:
        return None, "is not a PNG, JPEG or WebP image"
    except Exception as exc:  # Pillow raises many kinds for damaged data: OSError, SyntaxError, ValueError, ...
        return None, f"cannot be decoded ({exc or type(exc).__name__})"
    if size is not None and rgb.size != tuple(size):
        return None, f"is {rgb.width}×{rgb.height}, the study's images are {size[0]}×{size[1]}"
    # a new image from the pixels alone: no ICC profile, EXIF, text or transparency can reach the PNG (encode_png
    # would write an ICC profile or a tRNS chunk still found in ``info``); colours are taken as sRGB
    return encode_png(Image.frombytes("RGB", rgb.size, rgb.tobytes())), ""


def _report(files: list[_File], unsafe: list[tuple[str, str]], *, prompts: Sequence[str], size) -> ImageSetReport:
    keys: dict[str, list[int]] = {}
    for number, prompt in enumerate(prompts, start=1):
        if key := text_key(prompt):
            keys.setdefault(key, []).append(number)
    matched: dict[int, list[_File]] = {}
    extra: list[str] = []
    unusable = list(unsafe)
    for file in sorted(files, key=lambda file: file.name):
        base = PurePosixPath(file.name)
        numbers = []
        if base.suffix.lower() in IMAGE_EXTENSIONS:
            numbers = _prompts_named(base.stem, count=len(prompts), keys=keys)
        if not numbers:
            extra.append(file.name)
        elif len(numbers) > 1:
            fits = ", ".join(map(str, numbers[:-1])) + f" and {numbers[-1]}"
            unusable.append((file.name, f"its name fits prompts {fits} alike; name it by its prompt's number"))
        else:
            matched.setdefault(numbers[0], []).append(file)
    images: dict[int, bytes] = {}
    duplicates = []
    for number in sorted(matched):
        found = matched[number]
        if len(found) > 1:
            duplicates.append((number, tuple(file.name for file in found)))
            continue
        file = found[0]
        if file.size > MAX_FILE_BYTES:
            unusable.append((file.name, f"is {_size(file.size)}; files over {_size(MAX_FILE_BYTES)} are not read"))
            continue
        try:
            data = file.read()
        except Exception as exc:  # an encrypted or damaged member, a file that went away
            unusable.append((file.name, f"cannot be read ({exc or type(exc).__name__})"))
            continue
        if len(data) > MAX_FILE_BYTES:  # a file that grew after it was listed
            unusable.append((file.name, f"is over {_size(MAX_FILE_BYTES)}; such files are not read"))
            continue
        png, why = _decode(data, size=size)
        if png is None:
            unusable.append((file.name, why))
        else:
            images[number] = png
    return ImageSetReport(
        images=images,
        missing=tuple(number for number in range(1, len(prompts) + 1) if number not in matched),
        extra=tuple(extra),
        unreadable=tuple(sorted(unusable)),
        duplicates=tuple(duplicates),
    )


def read_image_set(
    source: str | Path | BinaryIO, *, prompts: Sequence[str], size: tuple[int, int] | None = None
) -> ImageSetReport:
    """Read an image set for ``prompts`` (in the study's order) from ``source``: a folder, a zip file's path, or a
    binary file object holding a zip (an upload; it is left open). See the module docstring for matching.

    Each image is decoded (PNG, JPEG or WebP only, within ``Image.MAX_IMAGE_PIXELS``), turned as its EXIF
    orientation says, made RGB on white, checked against ``size`` (width, height) when given (never resized), and
    re-encoded as PNG with no metadata at all: nothing in it may name the method to an annotator. Raises one
    ValidationError for a source that is no folder or zip archive, or holds more than ``MAX_FILES`` files.
    """
    if isinstance(source, str | os.PathLike):
        path = Path(source)
        if path.is_dir():
            return _report(_folder_files(path), [], prompts=prompts, size=size)
        if not path.is_file():
            raise ValidationError(f"There is no folder or file at {path}.")
        where = path.name
        not_zip = f"{where} is neither a folder nor a zip archive."
    else:
        where = f"The upload {getattr(source, 'name', None) or ''}".rstrip()
        not_zip = f"{where} is not a zip archive."
    with _open_archive(source, where=where, not_zip=not_zip) as archive:
        files, unsafe = _archive_files(archive, where)
        return _report(files, unsafe, prompts=prompts, size=size)
