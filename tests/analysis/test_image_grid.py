"""export_grid: the paper-style comparison figure, its geometry and pixels, and its refusals."""

import io

import numpy as np
import pytest
from django.core.files.storage import default_storage
from django.core.management import CommandError, call_command
from PIL import Image, ImageFont

from analysis.image_grid import GridColumn, comparison_grid, grid_pairs, model_label, wrap_text
from generation.models import PairJob
from tests.factories import PROMPTS, make_open_study, make_study

pytestmark = pytest.mark.django_db

BASELINE_GREY, OURS_GREY = 40, 215  # tests.factories.fake_generate
SD21 = "stabilityai/stable-diffusion-2-1-base"


def export(*args) -> str:
    out = io.StringIO()
    call_command("export_grid", *args, stdout=out)
    return out.getvalue()


def layout_for(captions: list[str], *, label: str, tile: int = 64):
    """The layout the command must have used: same tile size, label and captions."""
    blank = Image.new("RGB", (tile, tile))
    _, layout = comparison_grid([GridColumn(text, blank, blank) for text in captions], baseline_label=label)
    return layout


def ink(region: np.ndarray) -> bool:
    """Whether a white region holds text: some dark pixels."""
    return bool((region < 128).any())


def test_grid_has_one_row_per_arm_and_one_column_per_prompt(tmp_path):
    study, _ = make_open_study(slug="sd21_224px", prompts=3, model=SD21)
    output = export("sd21_224px", "--out", str(tmp_path))
    png, pdf = tmp_path / "sd21_224px-grid.png", tmp_path / "sd21_224px-grid.pdf"
    assert output.splitlines() == [f"Wrote {png}", f"Wrote {pdf}"]

    layout = layout_for(PROMPTS[:3], label="stable-diffusion-2-1-base")
    assert (layout.columns, layout.tile_width, layout.tile_height) == (3, 64, 64)
    assert layout.label_width > 0 and layout.caption_height > 0
    with Image.open(png) as image:
        pixels = np.asarray(image.convert("RGB"))
        assert image.size == layout.size
    width, height = layout.size
    assert width == 2 * layout.padding + layout.label_width + 3 * 64 + 2 * layout.gap
    assert height == 2 * layout.padding + 2 * 64 + layout.gap + layout.caption_height

    for column in range(3):
        for row, grey in ((0, BASELINE_GREY), (1, OURS_GREY)):
            left, top, right, bottom = layout.tile_box(row=row, column=column)
            assert (pixels[top:bottom, left:right] == grey).all(), (row, column)
        left, _, right, bottom = layout.tile_box(row=1, column=column)
        assert ink(pixels[bottom + layout.gap :, left:right])  # the caption under the column
    label_margin = pixels[:, layout.padding : layout.padding + layout.label_width]
    for row in (0, 1):
        _, top, _, bottom = layout.tile_box(row=row, column=0)
        assert ink(label_margin[top:bottom])  # "stable-diffusion-2-1-base", then "Ours"
    left, _, _, _ = layout.tile_box(row=0, column=1)
    assert (pixels[: 2 * 64, left - layout.gap : left] == 255).all()  # white gap between columns

    assert pdf.read_bytes().startswith(b"%PDF")


def test_prompts_choose_and_order_the_columns_by_position_or_text(tmp_path):
    study, _ = make_open_study(slug="pick", prompts=4)
    pairs = grid_pairs(study=study, prompts=["2", PROMPTS[0], "2"])
    assert [pair.prompt.position for pair in pairs] == [2, 0]

    export("pick", "--prompts", "3", PROMPTS[1], "--out", str(tmp_path))
    with Image.open(tmp_path / "pick-grid.png") as image:
        assert image.size == layout_for([PROMPTS[3], PROMPTS[1]], label="unused").size
        assert image.width < layout_for(PROMPTS[:4], label="unused").size[0]


def test_only_generated_pairs_are_shown(tmp_path):
    study, _ = make_open_study(slug="partly", prompts=3)
    failed = study.pairs.get(prompt__position=1).job
    PairJob.objects.filter(pk=failed.pk).update(status=PairJob.Status.FAILED)
    assert [pair.prompt.position for pair in grid_pairs(study=study)] == [0, 2]
    export("partly", "--out", str(tmp_path))
    with Image.open(tmp_path / "partly-grid.png") as image:
        assert image.size == layout_for([PROMPTS[0], PROMPTS[2]], label="unused").size
    with pytest.raises(CommandError, match="has no generated pair"):
        export("partly", "--prompts", "1", "--out", str(tmp_path / "other"))


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["nope"], "No study with slug 'nope'"),
        (["draft"], "no generated pairs"),
        (["open", "--prompts", "7"], "no prompt at position or with text '7'"),
        (["open", "--prompts", "0", "A purple elephant"], "no prompt at position or with text 'A purple elephant'"),
    ],
)
def test_refusals_name_the_problem_and_write_nothing(args, message, tmp_path):
    make_study(slug="draft", prompts=2)
    make_open_study(slug="open", prompts=2)
    with pytest.raises(CommandError, match=message):
        export(*args, "--out", str(tmp_path / "out"))
    assert not (tmp_path / "out").exists()


def test_out_must_be_a_folder(tmp_path):
    make_open_study(slug="open", prompts=1)
    (tmp_path / "file").write_text("")
    with pytest.raises(CommandError, match="exists and is not a folder"):
        export("open", "--out", str(tmp_path / "file"))
    with pytest.raises(CommandError, match="is below .*file, which exists and is not a folder"):
        export("open", "--out", str(tmp_path / "file" / "sub"))


def test_an_image_gone_from_storage_is_named(tmp_path):
    study, _ = make_open_study(slug="gone", prompts=2)
    job = study.pairs.get(prompt__position=1).job
    default_storage.delete(job.ours_image)
    with pytest.raises(
        CommandError,
        match=(
            rf"Prompt 1 \({PROMPTS[1]!r}\): the ours image of pair job {job.pk} \({job.ours_image}\) is missing from "
            "storage"
        ),
    ):
        export("gone", "--out", str(tmp_path / "out"))
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize(
    ("name", "label"),
    [
        (SD21, "stable-diffusion-2-1-base"),
        ("/srv/models/tiny-sd/", "tiny-sd"),
        ("SD 2.1 base", "SD 2.1 base"),
        ("", "Baseline"),
    ],
)
def test_model_label_is_the_last_path_component(name, label):
    assert model_label(name) == label


def test_wrap_text_fits_the_width_and_keeps_every_character():
    font = ImageFont.load_default(size=12)
    text = "A lighthouse on a rocky coast at sunset, supercalifragilisticexpialidocious"
    lines = wrap_text(text, font=font, width=60)
    assert len(lines) > 3
    assert all(font.getlength(line) <= 60 for line in lines)
    assert "".join(lines).replace(" ", "") == text.replace(" ", "")
    assert wrap_text("stable-diffusion-2-1-base", font=font, width=70)[0] == "stable-"
