"""The open data of a results folder and bundle: the ratings in Parquet, the codebook (Markdown and JSON Schema),
the readable protocol and the README, all made without Django."""

import ast
import io
import json
import math
import zipfile
from pathlib import Path

import jsonschema
import pandas as pd
import pyarrow.parquet as pq
import pytest
from django.core.management import call_command

from analysis.documents import results_zip
from analysis.selectors import ratings_frame
from analysis.stats.tidy import CODEBOOK, COLUMNS
from analysis.tidy_files import read_tidy
from tests.analysis.test_exports import rate_all
from tests.factories import make_open_study

ROOT = Path(__file__).resolve().parents[2]
FORBIDDEN = ("django", "evalsite", "generation", "annotations", "metrics")
OPEN_DATA_MODULES = ("open_data", "tidy_files", "codebook", "protocol_text", "bundle_readme", "cli", "files")
OPEN_FILES = {"open-ratings.parquet", "codebook.md", "codebook.schema.json", "protocol.md", "README.md"}


@pytest.fixture
def exported(db, tmp_path):
    study, annotators = make_open_study(slug="open", prompts=3, annotators=2, base_seed=11, steps=4)
    study.criteria.update(question="Which image | shows the prompt better?")
    study.instructions = "Rate both images.\nTake your time."
    study.save()
    rate_all(study, annotators)
    out = tmp_path / "results"
    call_command("export_results", "open", "--format", "all", "--out", str(out), stdout=io.StringIO())
    return study, out


def test_the_parquet_holds_the_csvs_rows_typed_and_described(exported):
    study, out = exported
    assert OPEN_FILES <= {path.name for path in out.iterdir()}
    from_parquet = read_tidy(out / "open-ratings.parquet").frames["open"]
    from_csv = read_tidy(out / "open-ratings.csv").frames["open"]
    pd.testing.assert_frame_equal(from_parquet, from_csv)
    pd.testing.assert_frame_equal(from_parquet, ratings_frame(study=study))
    schema = pq.read_schema(out / "open-ratings.parquet")
    assert schema.names == list(COLUMNS)
    assert [str(schema.field(name).type) for name in ("score", "seconds", "item")] == ["int64", "double", "string"]
    assert schema.field("seconds").metadata[b"units"] == b"seconds"
    assert schema.field("seconds").nullable and not schema.field("score").nullable


def test_every_row_fits_the_codebooks_json_schema(exported):
    _, out = exported
    schema = json.loads((out / "codebook.schema.json").read_text(encoding="utf-8"))
    jsonschema.Draft202012Validator.check_schema(schema)
    validator = jsonschema.Draft202012Validator(schema)
    rows = pq.read_table(out / "open-ratings.parquet").to_pylist()
    for row in rows:
        row = {key: None if isinstance(value, float) and math.isnan(value) else value for key, value in row.items()}
        assert not list(validator.iter_errors(row)), row
    bad = dict(rows[0], score=11, condition="Theirs!", position="middle", rater_age="31")
    messages = {error.validator for error in validator.iter_errors(bad)}
    assert messages == {"maximum", "pattern", "enum", "additionalProperties"}
    assert not list(validator.iter_errors(dict(rows[0], condition="resized", position="3", criterion="")))
    assert schema["properties"]["seconds"]["x-units"] == "seconds"


def test_the_codebook_names_every_column_its_type_units_and_allowed_values(exported):
    _, out = exported
    text = (out / "codebook.md").read_text(encoding="utf-8")
    for column in CODEBOOK:
        assert f"| `{column.name}` | {column.type}" in text
    assert "`baseline`, `ours`" in text and "`left`, `right`" in text and "whole numbers 1–10" in text
    assert "--seconds image" in text


def test_the_protocol_reads_as_text_not_as_dicts(exported):
    _, out = exported
    text = (out / "protocol.md").read_text(encoding="utf-8")
    manifest = json.loads((out / "protocol.json").read_text(encoding="utf-8"))["studies"][0]
    assert "## open" in text and "### How the images were made" in text and "### What annotators saw" in text
    assert "> Rate both images.\n> Take your time." in text
    assert "> Which image | shows the prompt better?" in text
    assert "Scale: 1–10 (1 = does not match, 10 = matches exactly)." in text
    assert "| conditions | baseline = Baseline (plain, the reference); ours = Ours (entropy) |" in text
    assert f"| steps | {manifest['steps']} |" in text
    assert f"| generated at | {manifest['width']} × {manifest['height']} |" in text
    assert "- straight-lining: one score for every image" in text
    assert "{'" not in text and "': " not in text


def test_the_readme_lists_every_file_and_the_command_that_remakes_them(exported):
    _, out = exported
    text = (out / "README.md").read_text(encoding="utf-8")
    for path in out.iterdir():
        assert f"| `{path.name}` | " in text
    assert (
        "evalsite-analyze open-ratings.parquet --out reproduced --protocol protocol.json --seed 0 --resamples 2000 "
        "--exclusions on --straightliners exclude --adjust holm"
    ) in text


def test_the_bundle_carries_the_open_data(exported, media_root):
    study, out = exported
    data, files = results_zip(slug="open")
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        names = archive.namelist()
        assert OPEN_FILES <= set(names)
        for name in OPEN_FILES:
            assert archive.read(name) == (out / name).read_bytes(), name
    assert results_zip(slug="open")[0] == data  # the same data, the same zip, Parquet included


def test_the_open_data_modules_import_nothing_of_django_or_the_apps():
    for name in OPEN_DATA_MODULES + ("stats/tidy",):
        tree = ast.parse((ROOT / "analysis" / f"{name}.py").read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0:
                names = [node.module or ""]
            else:
                continue
            for imported in names:
                assert imported.split(".")[0] not in FORBIDDEN, f"analysis/{name}.py imports {imported}"


def test_the_results_page_shows_the_protocol_in_sections(exported, client):
    from tests.analysis.test_pages import staff_client

    study, _ = exported
    html = staff_client(client).get(f"/results/{study.slug}/").content.decode()
    protocol = html[html.index('id="protocol"') :]
    assert "<h3>How the images were made</h3>" in protocol and "<h3>What annotators saw</h3>" in protocol
    assert "<dt>generated at</dt><dd>64 × 64</dd>" in protocol
    assert "<dd>Rate both images.<br>Take your time.</dd>" in protocol
    assert "{&#x27;" not in protocol and "{'" not in protocol  # no dict shown raw
