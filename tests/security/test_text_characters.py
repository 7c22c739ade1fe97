"""Control, bidirectional and zero-width characters make text render other than it reads: U+202E reverses a prompt,
U+200B hides a difference, C0/C1 controls garble it. One rule (evalsite/text_rules.py) refuses them wherever a
study's text enters, naming the character and where it is, and nothing is written on a refusal; emoji sequences and
ordinary text in any script keep working.
"""

from io import StringIO

import pytest
from django.core.exceptions import ValidationError
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import CommandError, call_command
from django.urls import reverse

from annotations import services
from annotations.models import Prompt, Study
from annotations.prompt_files import normalize_prompt
from annotations.services.demo import demo_prompts
from annotations.services.prompt_import import add_prompts_from_file
from annotations.services.rating_import import import_ratings
from evalsite.text_rules import bad_characters, character_name, describe_bad_characters
from tests.annotations.test_staff_pages import change_form
from tests.factories import make_model, make_study

RLO = "\u202e"
ZWSP = "\u200b"
RLO_NAME = "U+202E RIGHT-TO-LEFT OVERRIDE (a bidirectional control, which reorders the text shown)"
ZWSP_NAME = "U+200B ZERO WIDTH SPACE (an invisible format character)"

#: Text that must stay accepted: emoji sequences (ZWJ, skin tone, variation selector, a subdivision flag), RTL and
#: CJK scripts, accents, a no-break space.
LEGITIMATE = [
    "a programmer 👩\u200d💻 at a desk",
    "a family 👨\u200d👩\u200d👧\u200d👦 on a beach",
    "a health worker 👩🏽\u200d⚕️ smiling",
    "a rainbow flag 🏳️\u200d🌈 and a heart on fire ❤️\u200d🔥",
    "the flag of Scotland \U0001f3f4\U000e0067\U000e0062\U000e0073\U000e0063\U000e0074\U000e007f",
    "חתול על שטיח",
    "قطة على سجادة",
    "一只猫坐在垫子上",
    "a café in Zürich\u00a0at dawn",
]


# The rule -------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "char, name",
    [
        ("\u202a", "U+202A LEFT-TO-RIGHT EMBEDDING"),
        ("\u202d", "U+202D LEFT-TO-RIGHT OVERRIDE"),
        (RLO, "U+202E RIGHT-TO-LEFT OVERRIDE"),
        ("\u2066", "U+2066 LEFT-TO-RIGHT ISOLATE"),
        ("\u2069", "U+2069 POP DIRECTIONAL ISOLATE"),
        ("\u200e", "U+200E LEFT-TO-RIGHT MARK"),
        ("\u200f", "U+200F RIGHT-TO-LEFT MARK"),
        ("\u061c", "U+061C ARABIC LETTER MARK"),
        (ZWSP, "U+200B ZERO WIDTH SPACE"),
        ("\u200c", "U+200C ZERO WIDTH NON-JOINER"),
        ("\u200d", "U+200D ZERO WIDTH JOINER"),
        ("\u2060", "U+2060 WORD JOINER"),
        ("\ufeff", "U+FEFF ZERO WIDTH NO-BREAK SPACE"),
        ("\u00ad", "U+00AD SOFT HYPHEN"),
        ("\U000e0041", "U+E0041 TAG LATIN CAPITAL LETTER A"),
        ("\x00", "U+0000 NULL"),
        ("\x1b", "U+001B ESCAPE"),
        ("\x7f", "U+007F DELETE"),
        ("\x85", "U+0085 NEXT LINE"),
        ("\x9b", "U+009B CONTROL SEQUENCE INTRODUCER"),
        ("\x86", "U+0086"),
        ("\u2028", "U+2028 LINE SEPARATOR"),
        ("\ue000", "U+E000"),
        ("\u0378", "U+0378"),
        ("\ufffe", "U+FFFE"),
        ("\ud800", "U+D800"),
    ],
)
def test_each_refused_character_is_named_with_its_place(char, name):
    assert character_name(char) == name
    (bad,) = bad_characters(f"ab{char}c", multiline=True)
    assert (bad.line, bad.column, bad.char) == (1, 3, char)
    assert describe_bad_characters(f"ab{char}c").startswith(f"contains {name}")


def test_unnamed_characters_get_a_readable_description():
    assert describe_bad_characters("a\x86") == "contains U+0086 (a control character) at character 2"
    assert describe_bad_characters("\ue000") == (
        "contains U+E000 (a private-use character, shown differently or not at all) at character 1"
    )
    assert describe_bad_characters("\u0378") == "contains U+0378 (an unassigned code point) at character 1"


@pytest.mark.parametrize("text", LEGITIMATE)
def test_emoji_sequences_and_every_script_are_accepted(text):
    assert bad_characters(text) == []


def test_a_joiner_outside_an_emoji_sequence_and_a_stray_tag_are_refused():
    assert [bad.column for bad in bad_characters("c\u200dat 👩\u200d")] == [2, 7]  # between letters; at the end
    assert [bad.column for bad in bad_characters("\u200d💻")] == [1]
    assert len(bad_characters("a flag \U0001f3f4\U000e0067\U000e0062")) == 2  # no cancel tag: not a flag


def test_line_breaks_and_tabs_only_where_a_field_has_lines_and_the_line_is_counted():
    assert [bad.char for bad in bad_characters("a\tb\nc")] == ["\t", "\n"]
    assert bad_characters("a\tb\r\nc\rd\n", multiline=True) == []
    text = "First line\r\nsecond\rthird has a hidden\u200bspace"
    assert describe_bad_characters(text, multiline=True, of="the consent text") == (
        f"contains {ZWSP_NAME} at line 3 of the consent text, character 19"
    )


def test_many_bad_characters_are_counted_after_the_first_three():
    assert describe_bad_characters(RLO * 5).endswith("at character 3 and 2 more")


# Prompt files, the admin's upload page and import_prompts ---------------------------------------------------------


def upload(name: str, body: bytes) -> SimpleUploadedFile:
    return SimpleUploadedFile(name, body, content_type="application/octet-stream")


@pytest.mark.django_db
def test_a_prompt_file_with_a_bidi_override_is_refused_naming_line_and_character_and_nothing_is_written():
    study = make_study(slug="s", prompts=1)
    body = f"a cat\na dog\na {RLO}god\nok {ZWSP}x\n".encode()
    with pytest.raises(ValidationError) as info:
        add_prompts_from_file(study=study, data=body, filename="p.txt")
    assert info.value.messages == [
        f"line 3: contains {RLO_NAME} at character 3",
        f"line 4: contains {ZWSP_NAME} at character 4",
    ]
    assert study.prompts.count() == 1


@pytest.mark.django_db
def test_a_csv_field_over_two_lines_names_the_line_within_the_prompt():
    study = make_study(slug="s", prompts=0)
    body = f'caption\na cat\n"a dog\non a {ZWSP}sofa"\n'.encode()
    with pytest.raises(ValidationError) as info:
        add_prompts_from_file(study=study, data=body, filename="p.csv")
    assert info.value.messages == [f"line 3: contains {ZWSP_NAME} at line 2 of the prompt, character 6"]
    assert not study.prompts.exists()


@pytest.mark.django_db
def test_a_byte_order_mark_opens_a_file_but_is_refused_inside_it():
    study = make_study(slug="s", prompts=0)
    assert add_prompts_from_file(study=study, data="\ufeffa cat\n".encode(), filename="p.txt") == 1
    with pytest.raises(ValidationError) as info:
        add_prompts_from_file(study=study, data="a dog\na \ufeffbird\n".encode(), filename="p.txt")
    assert info.value.messages == [
        "line 2: contains U+FEFF ZERO WIDTH NO-BREAK SPACE (an invisible format character) at character 3"
    ]
    assert list(study.prompts.values_list("text", flat=True)) == ["a cat"]


@pytest.mark.django_db
def test_json_escapes_cannot_smuggle_controls_or_a_line_separator():
    study = make_study(slug="s", prompts=0)
    body = b'{"prompt": "a \\u001b[31mred cat"}\n{"prompt": "a dog\\u2028on a sofa"}\n{"prompt": "ok"}\n'
    with pytest.raises(ValidationError) as info:
        add_prompts_from_file(study=study, data=body, filename="p.jsonl")
    assert info.value.messages == [
        "line 1: contains U+001B ESCAPE (a control character) at character 3",
        "line 2: contains U+2028 LINE SEPARATOR (a separator: end a line with a line feed) at character 6",
    ]
    assert not study.prompts.exists()


@pytest.mark.django_db
def test_legitimate_prompts_are_added_unchanged():
    study = make_study(slug="s", prompts=0)
    body = "\n".join(LEGITIMATE).encode()
    assert add_prompts_from_file(study=study, data=body, filename="p.txt") == len(LEGITIMATE)
    stored = list(study.prompts.order_by("position").values_list("text", flat=True))
    assert stored == [normalize_prompt(text) for text in LEGITIMATE]  # the no-break space becomes a space


@pytest.mark.django_db
def test_import_prompts_and_the_admin_upload_refuse_the_file_whole(tmp_path, admin_client):
    study = make_study(slug="s", prompts=0)
    path = tmp_path / "p.txt"
    path.write_text(f"a cat\na {RLO}god\n", encoding="utf-8")
    with pytest.raises(CommandError) as info:
        call_command("import_prompts", "s", str(path), stdout=StringIO())
    assert f"line 2: contains {RLO_NAME} at character 3" in str(info.value)
    response = admin_client.post(
        reverse("admin:annotations_study_upload_prompts", args=[study.pk]),
        {"file": upload("p.txt", path.read_bytes()), "seed": "0"},
    )
    assert response.status_code == 200
    assert response.context["form"].non_field_errors() == [f"line 2: contains {RLO_NAME} at character 3"]
    assert not Prompt.objects.exists()


# The admin's prompt table -----------------------------------------------------------------------------------------


@pytest.mark.django_db
@pytest.mark.parametrize("bad", [RLO, ZWSP, "\u2028", "\x1f"])
def test_the_prompt_table_names_the_row_and_the_character(admin_client, bad):
    """U+2028 and U+001F are whitespace to str.split: they are named, not quietly made spaces."""
    study = make_study(slug="d", prompts=0)
    data = change_form(study) | {"prompts-TOTAL_FORMS": 2, "prompts-INITIAL_FORMS": 0}
    data |= {"prompts-0-position": 0, "prompts-0-text": "a cat", "prompts-1-position": 1, "prompts-1-text": f"a{bad}b"}
    response = admin_client.post(reverse("admin:annotations_study_change", args=[study.pk]), data)
    assert response.status_code == 200
    (message,) = response.context["inline_admin_formsets"][-1].formset.non_form_errors()
    assert message.startswith(f"row 2: contains {character_name(bad)} (") and message.endswith("at character 2")
    assert not study.prompts.exists()


# The study's texts: the admin form and create_study -------------------------------------------------------------


@pytest.mark.django_db
def test_the_study_form_refuses_bad_characters_on_each_field_and_saves_nothing(admin_client):
    model = make_model("unused")
    data = change_form(
        Study(slug="new", title=f"Cats {RLO}and dogs"),
        model=model.pk,
        question=f"Which{ZWSP} matches?",
        consent_text="You will see images.\nYour\x07 ratings are kept.",
        instructions="Rate each image.\n\tThen submit.",  # tabs and line breaks are fine in a text area
    )
    response = admin_client.post(reverse("admin:annotations_study_add"), data)
    assert response.status_code == 200
    errors = response.context["adminform"].form.errors
    assert errors["title"] == [f"Title: contains {RLO_NAME} at character 6."]
    assert errors["question"] == [f"Question: contains {ZWSP_NAME} at character 6."]
    assert errors["consent_text"] == [
        "Consent text: contains U+0007 BELL (a control character) at line 2 of the consent text, character 5."
    ]
    assert "instructions" not in errors
    assert not Study.objects.filter(slug="new").exists()


@pytest.mark.django_db
def test_editing_checks_the_changed_texts_only(admin_client):
    """A study stored before the rule (here: written past it) keeps its other settings editable."""
    study = make_study(slug="old")
    Study.objects.filter(pk=study.pk).update(title=f"Old {RLO}title")
    study.refresh_from_db()
    url = reverse("admin:annotations_study_change", args=[study.pk])
    assert admin_client.post(url, change_form(study, steps=3)).status_code == 302
    response = admin_client.post(url, change_form(study, instructions=f"Rate{ZWSP}."))
    assert response.context["adminform"].form.errors["instructions"] == [
        f"Instructions: contains {ZWSP_NAME} at character 5."
    ]
    assert Study.objects.get(pk=study.pk).steps == 3


@pytest.mark.django_db
@pytest.mark.parametrize(
    "field, value, message",
    [
        ("title", f"Cats {RLO}", f"Title: contains {RLO_NAME} at character 6."),
        (
            "instructions",
            f"Line one\nline {ZWSP}two",
            f"Instructions: contains {ZWSP_NAME} at line 2 of the instructions, character 6.",
        ),
        (
            "completion_code",
            "ABC\x1b",
            "Completion code: contains U+001B ESCAPE (a control character) at character 4.",
        ),
        ("negative_prompt", f"blurry{ZWSP}", f"Negative prompt: contains {ZWSP_NAME} at character 7."),
    ],
)
def test_create_study_refuses_bad_texts_and_writes_nothing(field, value, message):
    kwargs = {"title": value} if field == "title" else {"title": "T", field: value}
    with pytest.raises(ValidationError) as info:
        services.create_study(
            slug="s", prompts=["a cat"], model=make_model("unused"), width=64, height=64, steps=2, **kwargs
        )
    assert info.value.message_dict[field] == [message]
    assert not Study.objects.exists() and not Prompt.objects.exists()


@pytest.mark.django_db
def test_create_study_refuses_a_bad_prompt_naming_its_line():
    with pytest.raises(ValidationError) as info:
        services.create_study(slug="s", title="T", prompts=["a cat", f"a {RLO}dog"])
    assert info.value.messages == [f"line 2: contains {RLO_NAME} at character 3"]
    assert not Study.objects.exists()


@pytest.mark.django_db
def test_legitimate_texts_make_a_study():
    study = services.create_study(
        slug="s",
        title="Emoji 👩\u200d💻 and שלום",
        prompts=LEGITIMATE,
        consent_text="Line one.\r\nLine two,\tindented.",
    )
    assert study.prompts.count() == len(LEGITIMATE)


def test_the_demo_prompts_pass_the_rule():
    assert all(not bad_characters(text, multiline=True) for text in demo_prompts())


# Rating import ----------------------------------------------------------------------------------------------------


HEADER = "study,annotator,item,condition,score,position,seconds\n"


@pytest.mark.django_db
@pytest.mark.parametrize(
    "annotator, item, expected",
    [
        ("a1", f"a {RLO}cat", f"line 2: item contains {RLO_NAME} at character 3"),
        (f"a{ZWSP}1", "a cat", f"line 2: annotator contains {ZWSP_NAME} at character 2"),
    ],
)
def test_import_ratings_refuses_bad_characters_and_creates_nothing(tmp_path, annotator, item, expected):
    text = HEADER + f"imp,{annotator},{item},baseline,3,left,1\nimp,{annotator},{item},ours,7,right,1\n"
    with pytest.raises(ValidationError) as info:
        import_ratings(slug="imp", text=text)
    assert expected in info.value.messages
    path = tmp_path / "r.csv"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(CommandError, match="nothing was written"):
        call_command("import_ratings", "imp", str(path), stdout=StringIO())
    assert not Study.objects.exists() and not Prompt.objects.exists()
