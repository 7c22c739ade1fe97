"""Imported conditions: a researcher adds a condition of images made elsewhere and imports one image per prompt
(service, admin page, command), checked whole; the study opens only with every condition's image of every prompt."""

import io
import zipfile

import pytest
from django.core.exceptions import ValidationError
from django.core.files.storage import default_storage
from django.core.management import call_command
from django.core.management.base import CommandError
from django.urls import reverse
from PIL import Image

from annotations import services
from annotations.models import Condition, ConditionImage, Study
from annotations.services import design
from annotations.services.image_import import import_condition_images
from tests.factories import fake_generate, make_study

pytestmark = pytest.mark.django_db


def png(size=(128, 128), colour=(200, 30, 30), **info) -> bytes:
    buffer = io.BytesIO()
    image = Image.new("RGB", size, colour)
    from PIL.PngImagePlugin import PngInfo

    meta = PngInfo()
    for key, value in info.items():
        meta.add_text(key, value)
    image.save(buffer, format="PNG", pnginfo=meta)
    return buffer.getvalue()


def zipped(files: dict[str, bytes]) -> io.BytesIO:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name, data in files.items():
            archive.writestr(name, data)
    buffer.seek(0)
    buffer.name = "set.zip"
    return buffer


def study_with_imported(slug="imp", prompts=3, **fields) -> tuple[Study, Condition]:
    study = make_study(slug=slug, prompts=prompts, width=128, height=128, **fields)
    condition = design.add_condition(
        condition=Condition(study=study, key="other", name="Other method", kind=Condition.Kind.IMPORTED)
    )
    return study, condition


def generate(study: Study) -> Study:
    services.queue_study_generation(study=study)
    for pair in study.pairs.select_related("job"):
        fake_generate(pair.job)
    return services.refresh_study_status(study_id=study.pk)


def test_a_set_is_stored_without_metadata_under_random_names_and_the_study_then_opens():
    study, condition = study_with_imported()
    study = generate(study)
    assert study.status == Study.Status.GENERATING  # the pairs are done; the imported images are not there yet
    with pytest.raises(ValidationError, match=r"images are missing \(Other method: 3 prompts\)"):
        services.open_study(study=study)
    count = import_condition_images(
        condition=condition, source=zipped({f"{n}.png": png(method="other-method") for n in (1, 2, 3)})
    )
    assert count == 3
    study.refresh_from_db()
    assert study.status == Study.Status.READY
    images = list(ConditionImage.objects.filter(condition=condition).order_by("prompt__position"))
    assert [image.prompt.position for image in images] == [0, 1, 2]
    for image in images:
        assert image.job is None and image.name.startswith("img/") and "other" not in image.name
        with default_storage.open(image.name, "rb") as handle:
            stored = Image.open(io.BytesIO(handle.read()))
            assert stored.size == (128, 128) and not stored.info and not getattr(stored, "text", {})
    assert services.open_study(study=study).status == Study.Status.OPEN


def test_a_set_with_problems_stores_nothing_and_names_each():
    study, condition = study_with_imported()
    files = {"1.png": png(), "2.png": png(size=(64, 64)), "cat.png": png()}
    with pytest.raises(ValidationError) as raised:
        import_condition_images(condition=condition, source=zipped(files))
    message = " ".join(raised.value.messages)
    assert message.startswith("Nothing was imported")
    assert "1 prompt has no image (3)" in message and "2.png" in message and "64×64" in message
    assert "cat.png" in message
    assert not ConditionImage.objects.exists()


def test_importing_again_replaces_the_earlier_set_and_removes_its_files(django_capture_on_commit_callbacks):
    study, condition = study_with_imported(prompts=2)
    import_condition_images(condition=condition, source=zipped({"1.png": png(), "2.png": png()}))
    first = set(ConditionImage.objects.values_list("name", flat=True))
    with django_capture_on_commit_callbacks(execute=True):
        import_condition_images(
            condition=condition, source=zipped({"prompt-01.png": png(colour=(0, 0, 255)), "prompt-02.png": png()})
        )
    second = set(ConditionImage.objects.values_list("name", flat=True))
    assert len(second) == 2 and not first & second
    assert not any(default_storage.exists(name) for name in first)


def test_only_an_imported_condition_of_a_study_not_yet_open_takes_images():
    study, condition = study_with_imported(prompts=2)
    plain = study.conditions.get(key="baseline")
    with pytest.raises(ValidationError, match="EvalSite makes its images"):
        import_condition_images(condition=plain, source=zipped({"1.png": png(), "2.png": png()}))
    import_condition_images(condition=condition, source=zipped({"1.png": png(), "2.png": png()}))
    study = generate(study)
    services.open_study(study=study)
    condition.refresh_from_db()
    with pytest.raises(ValidationError, match="is open: annotators may have seen its images"):
        import_condition_images(condition=condition, source=zipped({"1.png": png(), "2.png": png()}))


def test_conditions_change_only_before_the_study_generates():
    study, condition = study_with_imported(prompts=2)
    with pytest.raises(ValidationError, match="at most one condition of each generated kind|same images"):
        design.add_condition(condition=Condition(study=study, key="plain2", name="Plain 2", kind="plain"))
    with pytest.raises(ValidationError, match="reference"):
        design.remove_condition(condition=study.conditions.get(key="baseline"))
    design.remove_condition(condition=study.conditions.get(key="ours"))
    assert list(study.conditions.values_list("key", "position")) == [("baseline", 0), ("other", 1)]
    with pytest.raises(ValidationError, match="at least two conditions"):
        design.remove_condition(condition=study.conditions.get(key="other"))
    services.queue_study_generation(study=study)
    with pytest.raises(ValidationError, match="only before its images are generated"):
        design.add_condition(condition=Condition(study=study, key="more", name="More", kind="imported"))


def test_a_resized_condition_at_the_training_size_is_refused_and_otherwise_gets_its_own_jobs():
    same = make_study(slug="same", prompts=2, design_preset="resized")  # 64 px, the model's training size
    with pytest.raises(ValidationError, match="would be the plain condition's"):
        services.queue_study_generation(study=same)
    study = make_study(slug="bigger", prompts=2, design_preset="resized", width=128, height=128)
    services.queue_study_generation(study=study)
    images = list(ConditionImage.objects.filter(prompt__study=study).select_related("job", "prompt"))
    assert len(images) == 2
    for image in images:
        job = image.job
        assert (job.width, job.height, job.resize_width, job.resize_height) == (64, 64, 128, 128)
        assert job.seed == study.base_seed + image.prompt.position and image.name == job.baseline_image
        assert job != image.prompt.pair.job


def test_the_admin_page_imports_a_zip_and_lists_its_problems(admin_client):
    study, condition = study_with_imported(prompts=2)
    page = reverse("admin:annotations_study_import_images", args=[study.pk])
    response = admin_client.get(page)
    assert response.status_code == 200 and "Other method" in response.content.decode()
    bad = zipped({"1.png": png()})
    response = admin_client.post(page, {"condition": condition.pk, "file": bad})
    assert response.status_code == 200
    assert "1 prompt has no image (2)" in response.content.decode()
    good = zipped({"1.png": png(), "2.png": png()})
    response = admin_client.post(page, {"condition": condition.pk, "file": good})
    assert response.status_code == 302 and ConditionImage.objects.count() == 2


def test_the_command_imports_a_folder_and_names_a_wrong_condition(tmp_path, capsys):
    study, condition = study_with_imported(prompts=2)
    for number in (1, 2):
        (tmp_path / f"{number:03d}.png").write_bytes(png())
    with pytest.raises(CommandError, match="has no condition 'nope'; its conditions are baseline, ours, other"):
        call_command("import_images", study.slug, "nope", str(tmp_path))
    call_command("import_images", study.slug, "other", str(tmp_path))
    assert "Imported 2 images of 'Other method'" in capsys.readouterr().out
    assert ConditionImage.objects.filter(condition=condition).count() == 2
