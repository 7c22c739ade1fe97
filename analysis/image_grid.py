"""The qualitative comparison grid of a study's generated images, in the style of the paper's supplement
(Figures 2–5).

One row per arm (the model's name, then "Ours"), one column per prompt, the prompt wrapped under its column. Drawn
with Pillow so every image is pasted pixel for pixel, never resampled, and the PDF is the same raster.
"""

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from django.core.exceptions import ValidationError
from django.core.files.storage import default_storage
from PIL import Image, ImageDraw, ImageFont, UnidentifiedImageError

from annotations.models import ImagePair, Prompt, Study
from evalsite.files import atomic_path
from generation.models import PairJob

OURS_LABEL = "Ours"
BACKGROUND = (255, 255, 255)
INK = (0, 0, 0)
PDF_DPI = 300


@dataclass(frozen=True)
class GridColumn:
    caption: str
    baseline: Image.Image
    ours: Image.Image


@dataclass(frozen=True)
class GridLayout:
    """Pixel geometry: a label margin, then the tiles separated by `gap`, then the captions; `padding` around all."""

    columns: int
    tile_width: int
    tile_height: int
    gap: int
    padding: int
    label_width: int
    caption_height: int

    @property
    def size(self) -> tuple[int, int]:
        width = 2 * self.padding + self.label_width + self.columns * self.tile_width + (self.columns - 1) * self.gap
        height = 2 * self.padding + 2 * self.tile_height + self.gap + self.caption_height
        return width, height

    def tile_box(self, *, row: int, column: int) -> tuple[int, int, int, int]:
        """`(left, top, right, bottom)` of the tile in `row` (0 baseline, 1 ours) and `column`."""
        left = self.padding + self.label_width + column * (self.tile_width + self.gap)
        top = self.padding + row * (self.tile_height + self.gap)
        return left, top, left + self.tile_width, top + self.tile_height

    def caption_top(self) -> int:
        return self.padding + 2 * self.tile_height + self.gap + self.gap


def model_label(name: str) -> str:
    """Short name of a model: the last component of a hub id or folder (`org/name`, `/path/name/` → `name`)."""
    return PurePosixPath(name.replace("\\", "/").rstrip("/")).name or "Baseline"


def font_for(tile_width: int) -> ImageFont.FreeTypeFont | ImageFont.ImageFont:
    """Pillow's bundled font, sized so a caption line holds about 25 characters under a tile."""
    return ImageFont.load_default(size=max(11, round(tile_width / 14)))


def _pieces(text: str) -> list[str]:
    """Words, each hyphenated word also split after its hyphens (`stable-diffusion` → `stable-`, `diffusion`)."""
    pieces = []
    for word in text.split():
        parts = word.split("-")
        pieces += [part + "-" for part in parts[:-1] if part] + ([parts[-1]] if parts[-1] else [])
    return pieces


def wrap_text(text: str, *, font, width: int) -> list[str]:
    """Greedy word wrap to lines at most `width` pixels wide; a word wider than a line is broken by characters."""
    lines: list[str] = []
    line = ""
    for piece in _pieces(text):
        joiner = "" if not line or line.endswith("-") else " "
        if font.getlength(line + joiner + piece) <= width:
            line += joiner + piece
            continue
        if line:
            lines.append(line)
        line = ""
        for char in piece:
            if line and font.getlength(line + char) > width:
                lines.append(line)
                line = ""
            line += char
    if line:
        lines.append(line)
    return lines


def _line_height(font) -> int:
    ascent, descent = font.getmetrics()
    return round((ascent + descent) * 1.15)


def comparison_grid(columns: Sequence[GridColumn], *, baseline_label: str) -> tuple[Image.Image, GridLayout]:
    """The figure for `columns` (tiles the size of the first baseline image) and its layout."""
    if not columns:
        raise ValueError("A comparison grid needs at least one column.")
    tile_width, tile_height = columns[0].baseline.size
    font = font_for(tile_width)
    line_height = _line_height(font)
    gap = max(2, tile_width // 64)
    padding = 2 * gap

    texts = (baseline_label, OURS_LABEL)
    # half a tile wide, or the widest word: a label's words are never broken
    label_wrap = max([tile_width // 2] + [round(font.getlength(piece)) for text in texts for piece in _pieces(text)])
    labels = [wrap_text(text, font=font, width=label_wrap) for text in texts]
    label_width = max(round(font.getlength(line)) for lines in labels for line in lines) + 3 * gap
    captions = [wrap_text(column.caption, font=font, width=tile_width - 4 * gap) for column in columns]
    caption_height = gap + max(len(lines) for lines in captions) * line_height
    layout = GridLayout(len(columns), tile_width, tile_height, gap, padding, label_width, caption_height)

    image = Image.new("RGB", layout.size, BACKGROUND)
    draw = ImageDraw.Draw(image)
    for row, lines in enumerate(labels):
        _, top, _, bottom = layout.tile_box(row=row, column=0)
        y = max(padding, (top + bottom - len(lines) * line_height) // 2)
        for line in lines:
            x = padding + (label_width - gap - font.getlength(line)) / 2
            draw.text((x, y), line, font=font, fill=INK)
            y += line_height
    for index, (column, lines) in enumerate(zip(columns, captions, strict=True)):
        for row, tile in enumerate((column.baseline, column.ours)):
            if tile.size != (tile_width, tile_height):
                tile = tile.resize((tile_width, tile_height), Image.Resampling.LANCZOS)
            left, top, _, _ = layout.tile_box(row=row, column=index)
            image.paste(tile.convert("RGB"), (left, top))
        left, _, right, _ = layout.tile_box(row=0, column=index)
        y = layout.caption_top()
        for line in lines:
            draw.text(((left + right - font.getlength(line)) / 2, y), line, font=font, fill=INK)
            y += line_height
    return image, layout


def _read_image(pair: ImagePair, arm: str) -> Image.Image:
    """One arm's image of a pair; a file that is gone or not an image is named with its prompt and job."""
    name = getattr(pair.job, f"{arm}_image")
    try:
        with default_storage.open(name, "rb") as handle:
            image = Image.open(handle)
            image.load()
    except (FileNotFoundError, UnidentifiedImageError) as exc:
        problem = "is missing from storage" if isinstance(exc, FileNotFoundError) else "is not a readable image"
        raise ValidationError(
            f"Prompt {pair.prompt.position} ({pair.prompt.text!r}): the {arm} image of pair job {pair.job_id} "
            f"({name}) {problem}."
        ) from None
    return image.convert("RGB")


def _find_prompt(study: Study, token: str) -> Prompt:
    """A study's prompt by position (digits) or by its exact text."""
    prompts = study.prompts.all()
    prompt = None
    if token.strip().isdigit():
        prompt = prompts.filter(position=int(token)).first()
    prompt = prompt or prompts.filter(text=token.strip()).first()
    if prompt is None:
        raise ValidationError(f"Study {study.slug!r} has no prompt at position or with text {token!r}.")
    return prompt


def grid_pairs(*, study: Study, prompts: Sequence[str] | None = None) -> list[ImagePair]:
    """The generated pairs to show: those of `prompts` (positions or texts) in that order, else all, by position."""
    done = study.pairs.filter(job__status=PairJob.Status.DONE).select_related("prompt", "job")
    if not prompts:
        pairs = list(done.order_by("prompt__position"))
        if not pairs:
            raise ValidationError(f"Study {study.slug!r} has no generated pairs yet.")
        return pairs
    by_prompt = {pair.prompt_id: pair for pair in done}
    pairs: list[ImagePair] = []
    for token in prompts:
        prompt = _find_prompt(study, token)
        if prompt.pk not in by_prompt:
            raise ValidationError(
                f"Prompt {prompt.position} ({prompt.text!r}) of {study.slug!r} has no generated pair."
            )
        if by_prompt[prompt.pk] not in pairs:
            pairs.append(by_prompt[prompt.pk])
    return pairs


def study_grid(*, slug: str, prompts: Sequence[str] | None = None) -> Image.Image:
    """A study's comparison figure, images read through the default storage."""
    study = Study.objects.select_related("model").filter(slug=slug).first()
    if study is None:
        raise ValidationError(f"No study with slug {slug!r}.")
    columns = [
        GridColumn(pair.prompt.text, _read_image(pair, "baseline"), _read_image(pair, "ours"))
        for pair in grid_pairs(study=study, prompts=prompts)
    ]
    label = model_label(study.model.name) if study.model else model_label("")
    image, _ = comparison_grid(columns, baseline_label=label)
    return image


GRID_FILES = (("png", {"format": "PNG", "dpi": (PDF_DPI, PDF_DPI)}), ("pdf", {"format": "PDF", "resolution": PDF_DPI}))


def write_grid(image: Image.Image, *, slug: str, out_dir: Path) -> list[Path]:
    """`out_dir/<slug>-grid.png` and `.pdf` (the same raster at 300 dpi), each replaced whole."""
    paths = []
    for suffix, params in GRID_FILES:
        path = out_dir / f"{slug}-grid.{suffix}"
        with atomic_path(path) as temp:
            image.save(temp, **params)
        paths.append(path)
    return paths
