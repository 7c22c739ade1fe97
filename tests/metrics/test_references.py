"""Sampling reference subsets from img2dataset folders, WebDataset shards and CSV files; setup messages."""

import sys
import types

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from django.core.exceptions import ValidationError
from django.core.management import call_command
from django.core.management.base import CommandError

from metrics import features
from metrics.features import ClipScorer, MetricsSetupError, check_inception
from metrics.models import ReferenceSet
from metrics.references import open_item_image, sample_reference

from .conftest import CAPTIONS, image_bytes, write_folder, write_shard

pytestmark = pytest.mark.django_db


def test_folder_sample_is_fixed_and_skips_bad_pairs(tmp_path):
    source = write_folder(tmp_path / "laion", count=8, broken=3, empty=4)
    reference = sample_reference(source=source, n=6, seed=0)
    items = list(reference.items.order_by("index"))
    assert [item.index for item in items] == list(range(6))
    assert reference.candidates == 8 and reference.skipped == {"unreadable_image": 1, "empty_caption": 1}
    assert {item.key for item in items} == {f"{i:09d}" for i in range(8)} - {"000000003", "000000004"}
    assert all(item.caption == CAPTIONS[int(item.key) % len(CAPTIONS)] for item in items)
    assert open_item_image(items[0]).mode == "RGB"
    again = sample_reference(source=source, n=6, seed=0, name="again")
    assert list(again.items.values_list("key", flat=True)) == [item.key for item in items]
    other = sample_reference(source=source, n=3, seed=1, name="other-seed")
    assert other.items.count() == 3
    assert sample_reference(source=source, n=6, seed=0) == reference  # same name and arguments: the same subset
    with pytest.raises(ValidationError, match="exists already"):
        sample_reference(source=source, n=5, seed=0, name=reference.name)


def test_parquet_metadata_supplies_missing_captions(tmp_path):
    shard = tmp_path / "laion" / "00000"
    shard.mkdir(parents=True)
    for index in range(3):
        (shard / f"{index:09d}.png").write_bytes(image_bytes(index, fmt="PNG"))
    pq.write_table(
        pa.table({"key": [f"{i:09d}" for i in range(3)], "caption": ["one", "", "three"], "status": ["success"] * 3}),
        tmp_path / "laion" / "00000.parquet",
    )
    reference = sample_reference(source=tmp_path / "laion", n=3, seed=0)
    assert sorted(reference.items.values_list("caption", flat=True)) == ["one", "three"]
    assert reference.skipped == {"empty_caption": 1}


def test_webdataset_shards_are_read_by_offset(tmp_path):
    write_shard(tmp_path / "wds" / "00000.tar", range(0, 4), broken=2)
    write_shard(tmp_path / "wds" / "00001.tar", range(4, 7))
    reference = sample_reference(source=tmp_path / "wds", n=10, seed=0)
    assert reference.kind == "tar" and reference.candidates == 7
    assert reference.items.count() == 6 and reference.skipped == {"unreadable_image": 1}
    item = reference.items.get(key="000000005")
    assert item.path.endswith("00001.tar") and item.member == "000000005.jpg" and item.offset > 0
    assert item.caption == CAPTIONS[5]
    assert open_item_image(item).size == open_item_image(item).size  # a seek and a read, no scan


def test_csv_of_caption_and_path(tmp_path):
    (tmp_path / "img").mkdir()
    for index in range(3):
        (tmp_path / "img" / f"{index}.jpg").write_bytes(image_bytes(index))
    (tmp_path / "pairs.csv").write_text(
        "caption,image\n"
        + "".join(f"{CAPTIONS[i]},img/{i}.jpg\n" for i in range(3))
        + "orphan,img/missing.jpg\n,img/0.jpg\n"
    )
    reference = sample_reference(source=tmp_path / "pairs.csv", n=5, seed=0)
    assert reference.items.count() == 3
    assert reference.skipped == {"unreadable_image": 1, "empty_caption": 1}
    (tmp_path / "bad.csv").write_text("url,alt\nx,y\n")
    with pytest.raises(ValidationError, match="caption column"):
        sample_reference(source=tmp_path / "bad.csv", n=1)


def test_command_reports_counts(tmp_path, capsys):
    source = write_folder(tmp_path / "laion", count=4, broken=1)
    call_command("sample_reference", "--source", str(source), "--n", "10", "--seed", "0", "--name", "tiny")
    out = capsys.readouterr()
    assert "'tiny': 3 of 4 pairs (seed 0); skipped: 1 unreadable image." in out.out
    assert "Only 3 usable pairs" in out.err


def test_inception_needs_torch_fidelity_and_a_weights_file(settings, tmp_path, monkeypatch):
    monkeypatch.setattr(features.importlib.util, "find_spec", lambda name: None)
    with pytest.raises(MetricsSetupError, match="pip install torch-fidelity"):
        check_inception()
    monkeypatch.setattr(features.importlib.util, "find_spec", lambda name: object())
    monkeypatch.setitem(sys.modules, "torch_fidelity", types.ModuleType("torch_fidelity"))
    settings.EVALSITE_INCEPTION_WEIGHTS = tmp_path / "weights" / "inception.pth"
    with pytest.raises(MetricsSetupError) as error:
        check_inception()
    assert str(tmp_path / "weights" / "inception.pth") in str(error.value)
    assert "EVALSITE_INCEPTION_WEIGHTS" in str(error.value) and "weights-inception-2015-12-05" in str(error.value)


def test_missing_clip_folder_says_where_to_put_it(tmp_path):
    with pytest.raises(MetricsSetupError, match="EVALSITE_CLIP_MODEL"):
        ClipScorer(tmp_path / "nothing-here")


@pytest.mark.parametrize("seed", [-1, 2**63, 2**64 + 5])
def test_seed_out_of_range_is_refused_naming_it(tmp_path, seed):
    from django.core.management.base import CommandError

    from metrics.models import ReferenceSet

    source = write_folder(tmp_path / "laion", count=3)
    with pytest.raises(CommandError, match="--seed must be from 0 to 2\\*\\*63 - 1"):
        call_command("sample_reference", "--source", str(source), "--n", "2", "--seed", str(seed))
    with pytest.raises(ValidationError, match="--seed"):
        sample_reference(source=source, n=2, seed=seed)
    assert not ReferenceSet.objects.exists()


def test_largest_seed_is_accepted(tmp_path):
    reference = sample_reference(source=write_folder(tmp_path / "laion", count=3), n=2, seed=2**63 - 1)
    reference.refresh_from_db()
    assert reference.seed == 2**63 - 1 and reference.items.count() == 2


def test_csv_that_is_not_utf8_is_refused_naming_file_and_line(tmp_path):
    source = tmp_path / "pairs.csv"
    source.write_bytes("caption,image\nA bicycle,a.jpg\ncaf\xe9 au lait,x.jpg\n".encode("latin-1"))
    with pytest.raises(ValidationError, match=r"pairs\.csv, line 3: not UTF-8 text.*save the CSV as UTF-8"):
        sample_reference(source=source, n=1)
    with pytest.raises(CommandError, match=r"pairs\.csv, line 3: not UTF-8"):
        call_command("sample_reference", "--source", str(source), "--n", "1")
    assert not ReferenceSet.objects.exists()


def test_csv_the_csv_module_cannot_parse_is_refused_naming_file_and_line(tmp_path):
    source = tmp_path / "pairs.csv"
    source.write_text('caption,image\nA bicycle,a.jpg\n"' + "x" * 200_000 + '",b.jpg\n', encoding="utf-8")
    with pytest.raises(ValidationError, match=r"pairs\.csv, line 3: not a readable CSV \(field larger than"):
        sample_reference(source=source, n=1)
    assert not ReferenceSet.objects.exists()


def test_csv_with_a_byte_order_mark_and_crlf_lines(tmp_path):
    (tmp_path / "a.jpg").write_bytes(image_bytes(0))
    source = tmp_path / "pairs.csv"
    source.write_bytes('caption,image\r\n"A bicycle,\r\nred",a.jpg\r\n'.encode("utf-8-sig"))
    reference = sample_reference(source=source, n=1)
    assert list(reference.items.values_list("caption", "key")) == [("A bicycle,\r\nred", "line 2")]
