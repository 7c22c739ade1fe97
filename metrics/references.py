"""Reference data in the layouts people already have, and a fixed, recorded random sample of it.

Sources:

- an img2dataset output folder: ``00000/000000012.jpg`` beside ``000000012.txt`` (the caption) and/or
  ``000000012.json`` (``{"caption": ...}``), optionally with ``00000.parquet`` (columns ``key``, ``caption``);
- WebDataset ``.tar`` shards (img2dataset's ``--output_format webdataset``): a .tar file, or a folder of them,
  members grouped by key (the name up to the first dot of its base name), optionally with a ``.parquet`` per shard;
- a CSV file with a caption column (``caption``, ``text``, ``TEXT`` or ``prompt``) and an image path column
  (``image``, ``path``, ``image_path``, ``file``, ``filepath`` or ``filename``), relative to the CSV's folder.

Sampling walks the candidates in a seeded random order and keeps the first N whose caption is not empty and whose
image decodes; the others are skipped and counted by reason, never fatal.
"""

import csv
import io
import json
import tarfile
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils.text import slugify
from PIL import Image

from evalsite.progress import BarFactory, NoBar

from .models import ReferenceItem, ReferenceSet, SourceKind

IMAGE_EXTENSIONS = (".jpg", ".jpeg", ".png", ".webp", ".bmp")
CAPTION_COLUMNS = ("caption", "text", "TEXT", "prompt")
MAX_SEED = 2**63  # seeds are stored in a BigIntegerField (signed 64-bit) and fed to numpy, which refuses negatives
IMAGE_COLUMNS = ("image", "path", "image_path", "file", "filepath", "filename")


@dataclass(frozen=True)
class Candidate:
    """A sample found in the source; its caption is read only when the sampling walk reaches it."""

    key: str
    path: str
    member: str = ""
    offset: int | None = None
    size: int | None = None
    caption: str | None = None
    caption_files: tuple[str, ...] = ()


def _caption_from_json(text: str) -> str:
    try:
        value = json.loads(text)
    except ValueError:
        return ""
    return str(value.get("caption") or "") if isinstance(value, dict) else ""


def _parquet_captions(folder: Path) -> dict[str, str]:
    """``key`` → ``caption`` from img2dataset's Parquet files under ``folder`` (none: empty)."""
    captions: dict[str, str] = {}
    for path in sorted(folder.rglob("*.parquet")):
        import pyarrow.parquet as pq

        try:
            table = pq.read_table(path)
        except Exception:  # a broken metadata file only loses its captions
            continue
        columns = set(table.column_names)
        caption_column = next((name for name in CAPTION_COLUMNS if name in columns), None)
        if "key" not in columns or caption_column is None:
            continue
        for key, caption in zip(table.column("key").to_pylist(), table.column(caption_column).to_pylist(), strict=True):
            if key is not None and caption:
                captions[str(key)] = str(caption)
    return captions


def _folder_candidates(folder: Path) -> Iterator[Candidate]:
    captions = _parquet_captions(folder)
    for path in folder.rglob("*"):
        if path.suffix.lower() in IMAGE_EXTENSIONS and path.is_file():
            stem = path.with_suffix("")
            yield Candidate(
                key=path.stem,
                path=str(path),
                caption=captions.get(path.stem),
                caption_files=(str(stem.with_suffix(".txt")), str(stem.with_suffix(".json"))),
            )


def _shard_candidates(shard: Path, captions: dict[str, str]) -> Iterator[Candidate]:
    """The samples of one WebDataset shard, with their captions (read while scanning the shard once)."""
    samples: dict[str, dict] = {}
    try:
        with tarfile.open(shard, "r:") as archive:
            for member in archive:
                if not member.isfile():
                    continue
                folder, _, base = member.name.rpartition("/")
                stem, dot, extension = base.partition(".")
                if not dot:
                    continue
                key = f"{folder}/{stem}" if folder else stem
                sample = samples.setdefault(key, {})
                extension = "." + extension.lower()
                if extension in IMAGE_EXTENSIONS and "image" not in sample:
                    sample["image"] = member
                elif extension in (".txt", ".json") and member.size < 1_000_000:
                    handle = archive.extractfile(member)
                    text = handle.read().decode("utf-8", errors="replace") if handle else ""
                    sample[extension] = text.strip() if extension == ".txt" else _caption_from_json(text)
    except (tarfile.TarError, OSError):
        return  # an unreadable shard contributes nothing; its samples cannot be counted
    for key, sample in samples.items():
        member = sample.get("image")
        if member is None:
            continue
        caption = sample.get(".txt") or sample.get(".json") or captions.get(key.rpartition("/")[2]) or ""
        yield Candidate(
            key=key, path=str(shard), member=member.name, offset=member.offset_data, size=member.size, caption=caption
        )


class _Utf8Lines:
    """The lines of a binary file as text, counting them; a line that is not UTF-8 is refused by number."""

    def __init__(self, handle, path: Path) -> None:
        self.handle, self.path, self.number = handle, path, 0

    def __iter__(self) -> Iterator[str]:
        for raw in self.handle:
            self.number += 1
            try:
                yield raw.decode("utf-8-sig" if self.number == 1 else "utf-8")
            except UnicodeDecodeError as exc:
                raise ValidationError(
                    f"{self.path}, line {self.number}: not UTF-8 text ({exc.reason} at byte {exc.start + 1} of the "
                    "line); save the CSV as UTF-8."
                ) from exc


def _csv_candidates(path: Path) -> Iterator[Candidate]:
    with open(path, "rb") as handle:
        lines = _Utf8Lines(handle, path)
        reader = csv.DictReader(lines)
        try:
            columns = reader.fieldnames or []
            caption_column = next((name for name in CAPTION_COLUMNS if name in columns), None)
            image_column = next((name for name in IMAGE_COLUMNS if name in columns), None)
            if caption_column is None or image_column is None:
                raise ValidationError(
                    f"{path}: needs a caption column ({', '.join(CAPTION_COLUMNS)}) and an image column "
                    f"({', '.join(IMAGE_COLUMNS)}); found {', '.join(columns) or 'none'}."
                )
            for line, row in enumerate(reader, start=2):  # the key counts records, as subsets already sampled do
                image = (row.get(image_column) or "").strip()
                image_path = (path.parent / image) if image else path.parent / f"<line {line}: no image>"
                yield Candidate(key=f"line {line}", path=str(image_path), caption=(row.get(caption_column) or ""))
        except csv.Error as exc:
            raise ValidationError(f"{path}, line {lines.number}: not a readable CSV ({exc}).") from exc


def source_kind(source: Path) -> str:
    if source.is_file() and source.suffix.lower() == ".csv":
        return SourceKind.CSV
    if source.is_file() and source.suffix.lower() == ".tar":
        return SourceKind.TAR
    if source.is_dir():
        return SourceKind.TAR if any(source.glob("*.tar")) else SourceKind.FOLDER
    raise ValidationError(f"{source}: not a folder, a .tar shard or a .csv file.")


def candidates(source: Path) -> tuple[str, list[Candidate]]:
    """Every sample in ``source``, in a fixed order (by file and member name) whatever the file system's."""
    kind = source_kind(source)
    if kind == SourceKind.CSV:
        found = list(_csv_candidates(source))
    elif kind == SourceKind.TAR:
        shards = [source] if source.is_file() else sorted(source.glob("*.tar"))
        captions = _parquet_captions(source if source.is_dir() else source.parent)
        found = [candidate for shard in shards for candidate in _shard_candidates(shard, captions)]
    else:
        found = list(_folder_candidates(source))
    found.sort(key=lambda candidate: (candidate.path, candidate.member, candidate.key))
    return kind, found


def read_caption(candidate: Candidate) -> str:
    if candidate.caption:
        return candidate.caption.strip()
    for name in candidate.caption_files:
        try:
            text = Path(name).read_text(encoding="utf-8", errors="replace")
        except OSError:
            continue
        caption = text.strip() if name.endswith(".txt") else _caption_from_json(text).strip()
        if caption:
            return caption
    return ""


def read_image_bytes(*, path: str, member: str = "", offset: int | None = None, size: int | None = None) -> bytes:
    """An image's bytes: a file, or ``size`` bytes at ``offset`` of a .tar shard (no scan of the shard)."""
    with open(path, "rb") as handle:
        if not member:
            return handle.read()
        handle.seek(offset)
        data = handle.read(size)
    if len(data) != size:
        raise OSError(f"{path} is shorter than expected: {member} is cut off.")
    return data


def decode_rgb(data: bytes) -> Image.Image:
    """Decode fully (a truncated file fails here, not later) and convert to RGB."""
    with Image.open(io.BytesIO(data)) as image:
        image.load()
        return image.convert("RGB")


def open_item_image(item: ReferenceItem) -> Image.Image:
    return decode_rgb(read_image_bytes(path=item.path, member=item.member, offset=item.offset, size=item.size))


def _readable(candidate: Candidate) -> bool:
    try:
        data = read_image_bytes(
            path=candidate.path, member=candidate.member, offset=candidate.offset, size=candidate.size
        )
        image = decode_rgb(data)
    except (OSError, ValueError, Image.DecompressionBombError, SyntaxError):
        return False
    return image.width > 0 and image.height > 0


def default_name(source: Path, n: int, seed: int) -> str:
    return slugify(f"{source.stem or source.name}-{n}-seed{seed}")[:80]


def sample_reference(*, source: Path, n: int, seed: int = 0, name: str = "", bar: BarFactory = NoBar) -> ReferenceSet:
    """Sample ``n`` readable, captioned pairs from ``source`` with ``seed`` and record them as a ReferenceSet.

    The same source, n and seed give the same subset. A name that exists already is returned as it is when it was
    sampled with the same arguments, and refused otherwise. ``bar`` shows the pairs sampled so far
    (``evalsite.progress``).
    """
    if n < 1:
        raise ValidationError("--n must be at least 1.")
    if not 0 <= seed < MAX_SEED:
        raise ValidationError(f"--seed must be from 0 to 2**63 - 1 (stored as a signed 64-bit integer); got {seed}.")
    source = Path(source).resolve()
    if not source.exists():
        raise ValidationError(f"{source} does not exist.")
    name = name or default_name(source, n, seed)
    existing = ReferenceSet.objects.filter(name=name).first()
    if existing is not None:
        if (existing.source, existing.requested, existing.seed) != (str(source), n, seed):
            raise ValidationError(
                f"A reference subset named {name!r} exists already, sampled from {existing.source} with "
                f"n={existing.requested}, seed={existing.seed}; choose another --name."
            )
        return existing
    kind, found = candidates(source)
    if not found:
        raise ValidationError(f"{source}: no images found ({', '.join(IMAGE_EXTENSIONS)}).")
    order = np.random.default_rng(seed).permutation(len(found))
    skipped: Counter = Counter()
    chosen: list[tuple[Candidate, str]] = []
    with bar(total=min(n, len(found)), desc="sampling", unit="pair") as progress:
        for position in order:
            candidate = found[int(position)]
            caption = read_caption(candidate)
            if not caption:
                skipped["empty_caption"] += 1
            elif not _readable(candidate):
                skipped["unreadable_image"] += 1
            else:
                chosen.append((candidate, caption))
                progress.update(1)
                if len(chosen) == n:
                    break
    if not chosen:
        raise ValidationError(f"{source}: none of {len(found)} samples has a caption and a readable image.")
    with transaction.atomic():
        reference = ReferenceSet.objects.create(
            name=name,
            source=str(source),
            kind=kind,
            seed=seed,
            requested=n,
            candidates=len(found),
            skipped=dict(skipped),
        )
        ReferenceItem.objects.bulk_create(
            [
                ReferenceItem(
                    reference=reference,
                    index=index,
                    key=candidate.key[:500],
                    caption=caption,
                    path=candidate.path,
                    member=candidate.member,
                    offset=candidate.offset,
                    size=candidate.size,
                )
                for index, (candidate, caption) in enumerate(chosen)
            ],
            batch_size=2000,
        )
    return reference
