"""Prompt files: each format read from real files, every problem named by its line, whole-file rejection,
seeded sampling, the import_prompts command and the admin upload page."""

import csv
import json
from io import StringIO
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from django.contrib import admin
from django.contrib.auth.models import Permission
from django.contrib.messages import get_messages
from django.core.exceptions import ValidationError
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import CommandError, call_command
from django.urls import include, path, reverse

from annotations.admin import StudyAdmin
from annotations.admin.prompts import UPLOAD_URL_NAME, prompt_upload_path
from annotations.models import Prompt, Study
from annotations.prompt_files import PromptLine, check_prompts, read_prompt_file, sample_prompts
from annotations.services.prompt_import import add_prompts_from_file
from tests.factories import PROMPTS, make_study

# This module is also the URL conf of the admin page's tests: the upload page next to the admin site.
urlpatterns = [
    path("admin/annotations/study/", include([prompt_upload_path(StudyAdmin(Study, admin.site))])),
    path("admin/", admin.site.urls),
]


def read(path: Path, column: str | None = None) -> list[tuple[int, str]]:
    return [(p.line, p.text) for p in read_prompt_file(path.read_bytes(), filename=path.name, column=column)]


def messages_of(excinfo) -> list[str]:
    return excinfo.value.messages


def write_csv(path: Path, rows: list[list[str]], delimiter: str = ",") -> Path:
    with path.open("w", newline="", encoding="utf-8") as handle:
        csv.writer(handle, delimiter=delimiter).writerows(rows)
    return path


def write_parquet(path: Path, columns: dict[str, list]) -> Path:
    pq.write_table(pa.table(columns), path)
    return path


# Reading each format ------------------------------------------------------------------------------


def test_csv_with_quoted_commas_and_newlines_counts_file_lines(tmp_path):
    path = write_csv(
        tmp_path / "prompts.csv",
        [
            ["url", "caption"],
            ["u1", "a cat, sitting on a mat"],
            ["u2", "a dog\nrunning on a beach"],
            ["u3", 'a "quoted" word'],
        ],
    )
    assert read(path) == [(2, "a cat, sitting on a mat"), (3, "a dog\nrunning on a beach"), (5, 'a "quoted" word')]


def test_tsv_with_header(tmp_path):
    path = tmp_path / "prompts.TSV"
    path.write_text("id\tprompt\n1\ta red car\n2\ta blue, small boat\n", encoding="utf-8")
    assert read(path) == [(2, "a red car"), (3, "a blue, small boat")]


def test_jsonl_and_ndjson_with_byte_order_mark(tmp_path):
    records = [{"text": "a cat", "n": 1}, {"text": "a dog", "n": 2}]
    body = "\n".join(json.dumps(record) for record in records) + "\n"
    for name in ("prompts.jsonl", "prompts.NDJSON"):
        path = tmp_path / name
        path.write_bytes(b"\xef\xbb\xbf" + body.encode())
        assert read(path) == [(1, "a cat"), (2, "a dog")]


def test_plain_text_skips_blank_lines_and_keeps_line_numbers(tmp_path):
    path = tmp_path / "prompts.txt"
    path.write_bytes("\ufeffa cat\r\n\r\n   \r\nun café à Paris\r\n".encode())
    assert read(path) == [(1, "a cat"), (4, "un café à Paris")]


def test_laion_style_parquet_with_text_column(tmp_path):
    path = write_parquet(
        tmp_path / "part-00000.parquet",
        {
            "URL": ["http://a", "http://b", "http://c"],
            "TEXT": ["a castle on a hill", "a bowl of soup", None],
            "WIDTH": [512, 640, 320],
            "similarity": [0.31, 0.29, 0.33],
        },
    )
    assert read(path) == [(1, "a castle on a hill"), (2, "a bowl of soup"), (3, "")]


def test_parquet_with_dictionary_encoded_text(tmp_path):
    table = pa.table({"caption": pa.array(["a cat", "a dog", "a cat"]).dictionary_encode()})
    pq.write_table(table, tmp_path / "p.parquet")
    assert read(tmp_path / "p.parquet") == [(1, "a cat"), (2, "a dog"), (3, "a cat")]


# Columns ------------------------------------------------------------------------------------------


def test_preferred_column_order_and_explicit_column(tmp_path):
    path = write_csv(tmp_path / "p.csv", [["text", "caption", "alt"], ["t1", "c1", "a1"]])
    assert read(path) == [(2, "c1")]
    assert read(path, column="alt") == [(2, "a1")]
    jsonl = tmp_path / "p.jsonl"
    jsonl.write_text('{"prompt": "p1", "other": "o1"}\n', encoding="utf-8")
    assert read(jsonl) == [(1, "p1")]
    assert read(jsonl, column="other") == [(1, "o1")]
    parquet = write_parquet(tmp_path / "p.parquet", {"prompt": ["p1"], "other": ["o1"]})
    assert read(parquet, column="other") == [(1, "o1")]


@pytest.mark.parametrize("kind", ["csv", "jsonl", "parquet"])
def test_missing_column_error_names_the_columns_found(tmp_path, kind):
    if kind == "csv":
        path = write_csv(tmp_path / "p.csv", [["url", "alt_text"], ["u", "a cat"]])
    elif kind == "jsonl":
        path = tmp_path / "p.jsonl"
        path.write_text('{"url": "u", "alt_text": "a cat"}\n', encoding="utf-8")
    else:
        path = write_parquet(tmp_path / "p.parquet", {"url": ["u"], "alt_text": ["a cat"]})
    with pytest.raises(ValidationError) as info:
        read(path)
    (message,) = messages_of(info)
    assert "no prompt column" in message.lower() and "'caption'" in message and "'TEXT'" in message
    assert "'url', 'alt_text'" in message
    with pytest.raises(ValidationError) as info:
        read(path, column="caption_en")
    (message,) = messages_of(info)
    assert "no column 'caption_en'" in message and "'url', 'alt_text'" in message


def test_plain_text_refuses_a_column(tmp_path):
    path = tmp_path / "p.txt"
    path.write_text("a cat\n", encoding="utf-8")
    with pytest.raises(ValidationError, match="no columns"):
        read(path, column="caption")


def test_parquet_column_that_is_not_text(tmp_path):
    path = write_parquet(tmp_path / "p.parquet", {"caption": [1, 2]})
    with pytest.raises(ValidationError, match="'caption' holds int64 values, not text"):
        read(path)


# Unreadable files ---------------------------------------------------------------------------------


def test_undecodable_bytes_name_the_line(tmp_path):
    path = tmp_path / "p.csv"
    path.write_bytes("caption\na cat\nun caf\xe9\n".encode("latin-1") + b"ok\n\xff\xfe\n")
    with pytest.raises(ValidationError) as info:
        read(path)
    messages = messages_of(info)
    assert len(messages) == 2
    assert messages[0].startswith("line 3: not valid UTF-8 (byte 0xE9")
    assert messages[1].startswith("line 5: not valid UTF-8 (byte 0xFF")


def test_bad_json_lines_are_each_named(tmp_path):
    path = tmp_path / "p.jsonl"
    path.write_text(
        '{"caption": "a cat"}\n{"caption": "a dog"\n["a list"]\n{"caption": 7}\n{"url": "u"}\n{"caption": null}\n',
        encoding="utf-8",
    )
    with pytest.raises(ValidationError) as info:
        read(path)
    messages = messages_of(info)
    assert [message.split(":")[0] for message in messages] == ["line 2", "line 3", "line 4", "line 5"]
    assert "not valid JSON" in messages[0]
    assert "expected a JSON object, found a list" in messages[1]
    assert "'caption' is a number, not text" in messages[2]
    assert "no 'caption' field" in messages[3]


def test_csv_rows_with_the_wrong_number_of_fields(tmp_path):
    path = tmp_path / "p.csv"
    path.write_text('caption,url\n"a cat",u1\na dog, small,u2\n"unclosed,u3\n', encoding="utf-8")
    with pytest.raises(ValidationError) as info:
        read(path)
    assert messages_of(info) == ["line 4: not valid CSV (unexpected end of data)."]
    path.write_text("caption,url\na cat,u1\na dog, small,u2\n", encoding="utf-8")
    with pytest.raises(ValidationError) as info:
        read(path)
    assert messages_of(info) == [
        "line 3: expected 2 fields as in the header, found 3 (quote a prompt that holds a comma)"
    ]


def test_unknown_extension_and_unreadable_parquet(tmp_path):
    with pytest.raises(ValidationError, match=r"must end in one of \.csv"):
        read_prompt_file(b"a cat", filename="prompts.xlsx")
    with pytest.raises(ValidationError, match="Cannot read 'p.parquet' as a Parquet file"):
        read_prompt_file(b"not parquet at all", filename="p.parquet")


# check_prompts ------------------------------------------------------------------------------------


def test_check_reports_every_problem_with_its_line():
    lines = [
        PromptLine(2, "  a   cat\n on a mat "),
        PromptLine(3, "   "),
        PromptLine(4, "x" * 1001),
        PromptLine(5, "a cat on a mat"),
        PromptLine(7, "an old prompt"),
        PromptLine(8, "fine"),
    ]
    with pytest.raises(ValidationError) as info:
        check_prompts(lines, existing={"an  old prompt"})
    assert messages_of(info) == [
        "line 3: the prompt is empty",
        "line 4: the prompt is 1001 characters long; at most 1000 are allowed",
        "line 5: duplicate of the prompt on line 2",
        "line 7: the study already has this prompt",
    ]


def test_check_returns_normalised_prompts_in_order():
    lines = [PromptLine(1, " a\tred   car "), PromptLine(2, "x" * 10)]
    assert check_prompts(lines, max_length=10) == ["a red car", "x" * 10]


# sample_prompts -----------------------------------------------------------------------------------


def test_sample_is_reproducible_keeps_order_and_depends_on_the_seed():
    texts = [f"prompt {i:02d}" for i in range(40)]
    first = sample_prompts(texts, n=8, seed=1)
    assert first == sample_prompts(texts, n=8, seed=1)
    assert len(set(first)) == 8 and first == sorted(first, key=texts.index)
    assert sample_prompts(texts, n=8, seed=2) != first
    assert sample_prompts(texts, n=40, seed=3) == texts


def test_sample_larger_than_the_file_is_refused():
    with pytest.raises(ValidationError, match="Cannot sample 5 prompts: the file holds only 4"):
        sample_prompts(["a", "b", "c", "d"], n=5, seed=0)
    with pytest.raises(ValidationError, match="at least 1"):
        sample_prompts(["a"], n=0, seed=0)


# add_prompts_from_file ----------------------------------------------------------------------------


def positions_and_texts(study: Study) -> list[tuple[int, str]]:
    return list(study.prompts.order_by("position").values_list("position", "text"))


@pytest.mark.django_db
def test_add_appends_after_the_last_position():
    study = make_study(slug="s", prompts=1)  # one prompt, at position 0
    assert add_prompts_from_file(study=study, data=b"a cat\na dog\n", filename="p.txt") == 2
    assert positions_and_texts(study) == [(0, PROMPTS[0]), (1, "a cat"), (2, "a dog")]


@pytest.mark.django_db
def test_add_to_a_study_without_prompts_starts_at_zero():
    study = make_study(slug="s", prompts=0)
    add_prompts_from_file(study=study, data=b'caption\n"a cat, black"\n', filename="p.csv")
    assert positions_and_texts(study) == [(0, "a cat, black")]


@pytest.mark.django_db
def test_bad_file_is_rejected_whole_with_every_problem(tmp_path):
    study = make_study(slug="s", prompts=3)
    path = tmp_path / "p.jsonl"
    path.write_text(
        "\n".join(
            [
                json.dumps({"caption": "a new prompt"}),
                json.dumps({"caption": PROMPTS[1]}),
                "{oops",
                json.dumps({"caption": ""}),
                json.dumps({"caption": "a new  prompt"}),
                json.dumps({"caption": "y" * 1200}),
                json.dumps({"caption": "another new prompt"}),
            ]
        ),
        encoding="utf-8",
    )
    before = Prompt.objects.count()
    with pytest.raises(ValidationError) as info:
        add_prompts_from_file(study=study, data=path.read_bytes(), filename=path.name)
    assert messages_of(info) == [
        "line 2: the study already has this prompt",
        "line 3: not valid JSON (Expecting property name enclosed in double quotes at character 2)",
        "line 4: the prompt is empty",
        "line 5: duplicate of the prompt on line 1",
        "line 6: the prompt is 1200 characters long; at most 1000 are allowed",
    ]
    assert Prompt.objects.count() == before


@pytest.mark.django_db
def test_nul_and_lone_surrogates_are_named_by_line_and_nothing_is_written(tmp_path):
    """JSON escapes can spell characters no database takes: NUL (PostgreSQL) and half a surrogate pair (any)."""
    study = make_study(slug="s", prompts=1)
    body = b'{"prompt": "a cat"}\n{"prompt": "a cat \\ud800"}\n{"prompt": "a \\u0000 dog"}\n{"prompt": "\\udfff"}\n'
    with pytest.raises(ValidationError) as info:
        add_prompts_from_file(study=study, data=body, filename="p.jsonl")
    assert messages_of(info) == [
        "line 2: contains U+D800 (half of a surrogate pair, which is not valid text) at character 7",
        "line 3: contains U+0000 NULL (a control character) at character 3",
        "line 4: contains U+DFFF (half of a surrogate pair, which is not valid text) at character 1",
    ]
    assert study.prompts.count() == 1
    # a raw NUL byte in a text or CSV file too
    for name, data in (("p.txt", b"a cat\nbad \x00 line\n"), ("p.csv", b'caption\na cat\n"bad \x00"\n')):
        with pytest.raises(ValidationError) as info:
            add_prompts_from_file(study=study, data=data, filename=name)
        assert messages_of(info) == [
            f"line {2 if name == 'p.txt' else 3}: contains U+0000 NULL (a control character) at character 5"
        ], name
    assert study.prompts.count() == 1


@pytest.mark.django_db
def test_command_and_admin_upload_report_a_lone_surrogate(tmp_path, admin_client, upload_url):
    study = make_study(slug="s", prompts=0)
    path = tmp_path / "p.jsonl"
    path.write_bytes(b'{"prompt": "a cat \\ud800"}\n')
    with pytest.raises(CommandError, match="line 1: contains U[+]D800"):
        call_command("import_prompts", "s", str(path), stdout=StringIO())
    response = admin_client.post(upload_url(study), {"file": upload("p.jsonl", path.read_bytes()), "seed": "0"})
    assert response.status_code == 200
    assert response.context["form"].non_field_errors() == [
        "line 1: contains U+D800 (half of a surrogate pair, which is not valid text) at character 7"
    ]
    assert not Prompt.objects.exists()


@pytest.mark.django_db
def test_blank_lines_inside_structured_files_are_empty_prompts_but_trailing_ones_are_ignored():
    study = make_study(slug="s", prompts=0)
    with pytest.raises(ValidationError) as info:
        add_prompts_from_file(study=study, data=b"caption\na cat\n\na dog\n\n\n", filename="p.csv")
    assert messages_of(info) == ["line 3: the prompt is empty"]
    assert add_prompts_from_file(study=study, data=b"caption\na cat\na dog\n\n", filename="p.csv") == 2


@pytest.mark.django_db
def test_sampling_happens_after_checking_the_whole_file(tmp_path):
    study = make_study(slug="s", prompts=0)
    texts = [f"prompt number {i}" for i in range(30)]
    path = tmp_path / "p.txt"
    path.write_text("\n".join(texts + [texts[0]]) + "\n", encoding="utf-8")
    with pytest.raises(ValidationError) as info:
        add_prompts_from_file(study=study, data=path.read_bytes(), filename=path.name, sample=5, seed=7)
    assert messages_of(info) == ["line 31: duplicate of the prompt on line 1"]
    assert not study.prompts.exists()
    path.write_text("\n".join(texts) + "\n", encoding="utf-8")
    assert add_prompts_from_file(study=study, data=path.read_bytes(), filename=path.name, sample=5, seed=7) == 5
    assert [text for _, text in positions_and_texts(study)] == sample_prompts(texts, n=5, seed=7)
    assert [position for position, _ in positions_and_texts(study)] == [0, 1, 2, 3, 4]


@pytest.mark.django_db
def test_sample_larger_than_the_file_writes_nothing():
    study = make_study(slug="s", prompts=0)
    with pytest.raises(ValidationError, match="only 2"):
        add_prompts_from_file(study=study, data=b"a\nb\n", filename="p.txt", sample=3)
    assert not study.prompts.exists()


@pytest.mark.django_db
def test_a_study_that_is_not_a_draft_is_refused():
    study = make_study(slug="s", prompts=2)
    Study.objects.filter(pk=study.pk).update(status=Study.Status.GENERATING)
    with pytest.raises(ValidationError, match="'s' is generating; prompts can be added only to a draft study"):
        add_prompts_from_file(study=study, data=b"a cat\n", filename="p.txt")
    assert study.prompts.count() == 2


@pytest.mark.django_db
def test_an_empty_file_is_refused():
    study = make_study(slug="s", prompts=0)
    with pytest.raises(ValidationError, match="'p.txt' holds no prompts"):
        add_prompts_from_file(study=study, data=b"\n\n", filename="p.txt")


# import_prompts -----------------------------------------------------------------------------------


@pytest.mark.django_db
def test_command_adds_prompts_and_prints_the_count(tmp_path):
    study = make_study(slug="s", prompts=0)
    path = write_parquet(tmp_path / "laion.parquet", {"TEXT": [f"caption {i}" for i in range(10)], "WIDTH": [1] * 10})
    out = StringIO()
    call_command("import_prompts", "s", str(path), "--sample", "4", "--seed", "3", stdout=out)
    assert out.getvalue().strip() == "Added 4 prompts to study 's'."
    expected = sample_prompts([f"caption {i}" for i in range(10)], n=4, seed=3)
    assert [text for _, text in positions_and_texts(study)] == expected


@pytest.mark.django_db
def test_command_lists_every_problem(tmp_path):
    make_study(slug="s", prompts=0)
    path = write_csv(tmp_path / "p.csv", [["id", "desc"], ["1", "a cat"], ["2", ""], ["3", "a cat"]])
    with pytest.raises(CommandError) as info:
        call_command("import_prompts", "s", str(path), "--column", "desc")
    assert str(info.value) == (
        f"{path} was not imported; nothing was written:\n"
        "  line 3: the prompt is empty\n"
        "  line 4: duplicate of the prompt on line 2"
    )
    assert not Prompt.objects.exists()


@pytest.mark.django_db
def test_command_errors_for_missing_study_file_and_lone_seed(tmp_path):
    make_study(slug="s", prompts=0)
    path = tmp_path / "p.txt"
    path.write_text("a cat\n", encoding="utf-8")
    with pytest.raises(CommandError, match="There is no study 'nope'"):
        call_command("import_prompts", "nope", str(path))
    with pytest.raises(CommandError, match="Cannot read"):
        call_command("import_prompts", "s", str(tmp_path / "missing.txt"))
    with pytest.raises(CommandError, match="--seed applies only with --sample"):
        call_command("import_prompts", "s", str(path), "--seed", "1")
    assert not Prompt.objects.exists()


# The admin upload page ----------------------------------------------------------------------------


@pytest.fixture
def upload_url(settings):
    settings.ROOT_URLCONF = __name__
    return lambda study: reverse(UPLOAD_URL_NAME, args=[study.pk])


def upload(name: str, body: bytes) -> SimpleUploadedFile:
    return SimpleUploadedFile(name, body, content_type="application/octet-stream")


@pytest.mark.django_db
def test_admin_page_shows_the_form(admin_client, upload_url):
    study = make_study(slug="s", prompts=2)
    response = admin_client.get(upload_url(study))
    assert response.status_code == 200
    assert response.templates[0].name == "admin/annotations/study/upload_prompts.html"
    assert "admin/base_site.html" in [template.name for template in response.templates]
    html = response.content.decode()
    assert 'enctype="multipart/form-data"' in html and 'name="file"' in html and 'name="sample"' in html
    assert "The study has 2 prompts" in html


@pytest.mark.django_db
def test_admin_good_upload_adds_prompts_and_returns_to_the_study(admin_client, upload_url):
    study = make_study(slug="s", prompts=1)
    body = b'url,caption\nu1,"a cat, asleep"\nu2,a dog\n'
    response = admin_client.post(
        upload_url(study), {"file": upload("p.csv", body), "column": "", "sample": "", "seed": "0"}
    )
    assert response.status_code == 302
    assert response["Location"] == reverse("admin:annotations_study_change", args=[study.pk])
    assert positions_and_texts(study) == [(0, PROMPTS[0]), (1, "a cat, asleep"), (2, "a dog")]
    assert [str(message) for message in get_messages(response.wsgi_request)] == ["Added 2 prompts from p.csv to s."]


@pytest.mark.django_db
def test_admin_upload_with_a_sample(admin_client, upload_url):
    study = make_study(slug="s", prompts=0)
    texts = [f"prompt {i}" for i in range(12)]
    body = "\n".join(json.dumps({"prompt": text}) for text in texts).encode()
    response = admin_client.post(upload_url(study), {"file": upload("p.jsonl", body), "sample": "3", "seed": "5"})
    assert response.status_code == 302
    assert [text for _, text in positions_and_texts(study)] == sample_prompts(texts, n=3, seed=5)


@pytest.mark.django_db
def test_admin_bad_upload_lists_each_bad_line_and_adds_nothing(admin_client, upload_url):
    study = make_study(slug="s", prompts=2)
    body = f"a new prompt\n{PROMPTS[0]}\na new prompt\n".encode()
    response = admin_client.post(upload_url(study), {"file": upload("p.txt", body), "seed": "0"})
    assert response.status_code == 200
    assert response.context["form"].non_field_errors() == [
        "line 2: the study already has this prompt",
        "line 3: duplicate of the prompt on line 1",
    ]
    html = response.content.decode()
    assert "Nothing was added" in html
    assert "<li>line 2: the study already has this prompt</li>" in html
    assert "<li>line 3: duplicate of the prompt on line 1</li>" in html
    assert study.prompts.count() == 2


@pytest.mark.django_db
def test_admin_upload_to_a_study_that_is_not_a_draft(admin_client, upload_url):
    study = make_study(slug="s", prompts=1)
    Study.objects.filter(pk=study.pk).update(status=Study.Status.OPEN)
    response = admin_client.post(upload_url(study), {"file": upload("p.txt", b"a cat\n")})
    assert response.status_code == 200
    assert "only to a draft study" in response.content.decode()
    assert study.prompts.count() == 1


@pytest.mark.django_db
def test_admin_page_needs_staff_and_change_permission(client, django_user_model, upload_url):
    study = make_study(slug="s", prompts=0)
    url = upload_url(study)
    assert client.get(url).status_code == 302  # to the admin's login page
    staff = django_user_model.objects.create_user("viewer", password="x", is_staff=True)
    staff.user_permissions.add(Permission.objects.get(codename="view_study"))
    client.force_login(staff)
    assert client.get(url).status_code == 403
    assert client.post(url, {"file": upload("p.txt", b"a cat\n")}).status_code == 403
    assert not study.prompts.exists()
    # the permission is checked before the study is looked up, so that a refusal tells nothing of which exist
    assert client.get(reverse(UPLOAD_URL_NAME, args=[999999])).status_code == 403
