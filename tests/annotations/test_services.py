"""Study lifecycle, consent and rating services, against the real database."""

from datetime import timedelta

import pytest
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.urls import reverse
from django.utils import timezone

from annotations import sequence, services
from annotations.models import Annotator, Assignment, ImagePair, Prompt, Study
from annotations.services import studies
from generation.models import PairJob
from tests.factories import PROMPTS, fake_generate, make_model, make_open_study, make_study, pair_rating, pair_ratings

pytestmark = pytest.mark.django_db


def counts() -> tuple[int, int, int]:
    return Study.objects.count(), Prompt.objects.count(), PairJob.objects.count()


# create_study -------------------------------------------------------------------------------------


def test_create_study_stores_stripped_prompts_in_order():
    study = services.create_study(slug="s", title="S", prompts=["  a cat ", "a dog"], model=make_model("m"))
    assert study.status == Study.Status.DRAFT
    assert list(study.prompts.values_list("position", "text")) == [(0, "a cat"), (1, "a dog")]


def test_create_study_rejects_empty_and_duplicate_prompts_naming_lines():
    with pytest.raises(ValidationError) as info:
        services.create_study(slug="s", title="S", prompts=["a cat", "   ", "a dog", " a cat"])
    messages = info.value.messages
    assert any("line 2" in message and "empty" in message for message in messages)
    assert any("line 4" in message and "duplicate" in message and "line 1" in message for message in messages)
    assert not any("line 3" in message for message in messages)
    assert counts() == (0, 0, 0)


@pytest.mark.parametrize(
    ("fields", "expected"),
    [
        ({"width": 100}, "multiples of 8"),
        ({"height": 4104}, "multiples of 8"),
        ({"steps": 0}, "Steps must be between 1 and 1000"),
        ({"guidance_scale": 51}, "Guidance scale must be between 0 and 50"),
        ({"base_seed": -1}, "base seed must not be negative"),
    ],
)
def test_create_study_constraint_errors_name_the_problem(fields, expected):
    with pytest.raises(ValidationError) as info:
        services.create_study(slug="s", title="S", prompts=["a cat"], **fields)
    assert any(expected in message for message in info.value.messages), info.value.messages
    assert counts() == (0, 0, 0)


@pytest.mark.parametrize(
    ("model", "column", "value"),
    [(Study, "scheduler", "karras"), (Annotator, "source", "email")],
)
def test_the_database_refuses_a_scheduler_or_source_out_of_its_choices(model, column, value):
    study, _ = make_open_study(slug="s", annotators=1)
    with pytest.raises(IntegrityError), transaction.atomic():
        model.objects.filter(**({"pk": study.pk} if model is Study else {"study": study})).update(**{column: value})


def test_create_study_duplicate_slug_writes_nothing():
    make_study(slug="s", prompts=2)
    before = counts()
    with pytest.raises(ValidationError) as info:
        services.create_study(slug="s", title="Again", prompts=["something new"])
    assert any("slug" in message.lower() and "already exists" in message for message in info.value.messages)
    assert counts() == before


LDM_EULER = (
    "tiny/ldm: A Latent Diffusion text2im pipeline cannot sample with Euler: it does not scale the noise for that "
    "scheduler. Use DDIM or DPM-Solver++."
)


@pytest.mark.parametrize(
    ("family", "fields", "expected"),
    [
        ("ldm", {"scheduler": "euler"}, {"scheduler": [LDM_EULER]}),
        (
            "ldm",
            {"negative_prompt": "blurry"},
            {"negative_prompt": ["tiny/ldm: A Latent Diffusion text2im pipeline takes no negative prompt."]},
        ),
        (
            "pixart",
            {"width": 520, "height": 520},
            {
                "width": ["tiny/pixart: A PixArt-α model needs a width that is a multiple of 16 pixels."],
                "height": ["tiny/pixart: A PixArt-α model needs a height that is a multiple of 16 pixels."],
            },
        ),
    ],
)
def test_create_study_refuses_what_the_model_family_cannot_take_as_the_admin_does(
    admin_client, family, fields, expected
):
    """A study made from code keeps the rules of the admin's study form, with its messages on the same fields."""
    from tests.annotations.test_staff_pages import change_form

    model = make_model(f"tiny/{family}", family=family)
    settings = {"model": model, "width": 64, "height": 64, **fields}
    with pytest.raises(ValidationError) as info:
        services.create_study(slug="s", title="S", prompts=["a cat"], **settings)
    assert info.value.message_dict == expected
    assert counts() == (0, 0, 0)

    form = change_form(
        Study(slug="s", title="S", **settings),
        **{
            "prompts-TOTAL_FORMS": 1,
            "prompts-0-position": 0,
            "prompts-0-text": "a cat",
        },
    )
    response = admin_client.post(reverse("admin:annotations_study_add"), form)
    assert response.status_code == 200
    assert response.context["adminform"].form.errors == expected
    assert counts() == (0, 0, 0)


# queue_study_generation ---------------------------------------------------------------------------


def test_queue_generation_creates_one_job_per_prompt_with_study_settings():
    make_model("org/model", revision="rev1", dtype="float16", train_width=512, train_height=256)
    study = make_study(
        slug="s",
        prompts=3,
        model="org/model",
        width=128,
        height=64,
        steps=7,
        guidance_scale=3.5,
        scheduler="ddim",
        negative_prompt="blurry",
        base_seed=100,
    )
    queued = services.queue_study_generation(study=study)
    assert queued == 3
    study.refresh_from_db()
    assert study.status == Study.Status.GENERATING
    pairs = list(study.pairs.select_related("prompt", "job").order_by("prompt__position"))
    assert len(pairs) == 3 and PairJob.objects.count() == 3
    for position, pair in enumerate(pairs):
        job = pair.job
        assert pair.prompt.position == position
        assert job.prompt == PROMPTS[position]
        assert job.seed == 100 + position
        assert (job.model, job.revision, job.width, job.height, job.steps) == ("org/model", "rev1", 128, 64, 7)
        assert (job.dtype, job.train_width, job.train_height) == ("float16", 512, 256)
        assert (job.guidance_scale, job.scheduler, job.negative_prompt) == (3.5, "ddim", "blurry")
        assert job.status == PairJob.Status.PENDING


def test_queue_generation_refuses_a_study_without_model():
    study = make_study(slug="s", model="")
    with pytest.raises(ValidationError, match="names no model"):
        services.queue_study_generation(study=study)
    study.refresh_from_db()
    assert study.status == Study.Status.DRAFT
    assert PairJob.objects.count() == 0 and ImagePair.objects.count() == 0


def test_queue_generation_twice_makes_no_new_jobs():
    study = make_study(slug="s", prompts=3)
    services.queue_study_generation(study=study)
    job_ids = set(PairJob.objects.values_list("pk", flat=True))
    services.queue_study_generation(study=study)
    assert set(PairJob.objects.values_list("pk", flat=True)) == job_ids
    assert ImagePair.objects.count() == 3


def test_queue_generation_refused_once_open():
    study, _ = make_open_study(slug="s")
    with pytest.raises(ValidationError, match="can no longer generate"):
        services.queue_study_generation(study=study)


@pytest.mark.parametrize("prompts", [0, 1])
def test_queue_generation_refuses_attention_checks_without_two_prompts(prompts):
    study = make_study(slug="s", prompts=prompts, attention_checks=1, open_when_ready=True)
    with pytest.raises(ValidationError) as info:
        services.queue_study_generation(study=study)
    if prompts:  # no prompts at all is refused first, for that
        assert info.value.message_dict["attention_checks"] == [
            "Study 's' has 1 pair, too few for attention checks (1): a check shows an image of another prompt, so it "
            "needs at least 2 pairs. Add prompts or set attention checks to 0."
        ]
    assert Study.objects.get(pk=study.pk).status == Study.Status.DRAFT
    assert PairJob.objects.count() == 0 and ImagePair.objects.count() == 0


@pytest.mark.parametrize("status", [Study.Status.DRAFT, Study.Status.GENERATING])
def test_queue_generation_refuses_settings_the_model_family_cannot_take(status):
    """A study stored with them (before the rule, or written around the services) generates nothing."""
    study = make_study(slug="s", prompts=2)
    Study.objects.filter(pk=study.pk).update(
        model=make_model("tiny/ldm", family="ldm"), scheduler="euler", status=status
    )
    with pytest.raises(ValidationError) as info:
        services.queue_study_generation(study=study)
    assert info.value.message_dict == {"scheduler": [LDM_EULER]}
    assert Study.objects.get(pk=study.pk).status == status
    assert PairJob.objects.count() == 0 and ImagePair.objects.count() == 0


@pytest.mark.parametrize("status", [Study.Status.DRAFT, Study.Status.GENERATING])
def test_queue_generation_refuses_a_study_of_imported_ratings_naming_why(status):
    from annotations.services.rating_import import import_ratings

    text = "study,annotator,item,condition,score,position,seconds\n" + "".join(
        f"imp,a0,item{j},baseline,3,left,1\nimp,a0,item{j},ours,7,right,1\n" for j in range(2)
    )
    study = import_ratings(slug="imp", text=text).study
    Study.objects.filter(pk=study.pk).update(model=make_model("m"), status=status)  # as the admin once allowed
    with pytest.raises(ValidationError) as info:
        services.queue_study_generation(study=study)
    assert info.value.messages == [
        "Study 'imp' holds 2 imported pairs (ratings imported without images, from import_ratings): it cannot "
        "generate images or take a model. Create a new study to generate."
    ]
    assert Study.objects.get(pk=study.pk).status == status and PairJob.objects.count() == 0


# settings that lock -------------------------------------------------------------------------------


def test_a_locked_setting_names_the_real_reason_not_the_ratings():
    study, (annotator, _) = make_open_study(slug="s", prompts=2)
    services.give_consent(annotator=annotator)
    with pytest.raises(ValidationError) as info:
        studies.check_settings_change(study=study, changed=["ratings_per_pair", "steps"])
    assert info.value.messages == [
        "Study 's': its steps can no longer change: its 2 pairs were generated with them (the study is open); its "
        "ratings per pair can no longer change: 1 annotator has consented and got a sequence of pairs laid out with "
        "them. Create a new study for other settings."
    ]
    generating = make_study(slug="g", prompts=1)
    services.queue_study_generation(study=generating)
    with pytest.raises(ValidationError, match="its width can no longer change: its pairs are being generated"):
        studies.check_settings_change(study=generating, changed=["width"])


def test_what_annotators_read_and_the_slug_lock_once_someone_consented():
    study, (annotator, _) = make_open_study(slug="s", prompts=2)
    changed = ["instructions", "consent_text", "slug", "title"]
    studies.check_settings_change(study=study, changed=changed)  # nobody consented yet: allowed
    services.give_consent(annotator=annotator)
    with pytest.raises(ValidationError) as info:
        studies.check_settings_change(study=study, changed=changed)
    assert info.value.messages == [
        "Study 's': its instructions, consent text can no longer change: 1 annotator has consented after "
        "reading them, and the protocol must report what annotators saw; its slug can no longer change: 1 annotator "
        "has consented, and the exports of its ratings name the study by it. Create a new study for other settings."
    ]
    studies.check_settings_change(study=study, changed=["title", "completion_url"])  # not locked


# status transitions -------------------------------------------------------------------------------


def generating_study(**fields) -> Study:
    study = make_study(slug="s", prompts=2, **fields)
    services.queue_study_generation(study=study)
    study.refresh_from_db()
    return study


def test_refresh_status_waits_for_every_pair_then_becomes_ready():
    study = generating_study()
    first, second = (pair.job for pair in study.pairs.select_related("job"))
    fake_generate(first)
    assert studies.refresh_study_status(study_id=study.pk).status == Study.Status.GENERATING
    fake_generate(second)
    assert studies.refresh_study_status(study_id=study.pk).status == Study.Status.READY
    assert Study.objects.get(pk=study.pk).status == Study.Status.READY


def test_refresh_status_opens_when_asked_to():
    study = generating_study(open_when_ready=True)
    for pair in study.pairs.select_related("job"):
        fake_generate(pair.job)
    assert studies.refresh_study_status(study_id=study.pk).status == Study.Status.OPEN


def test_refresh_status_leaves_other_statuses_alone():
    study = make_study(slug="s")
    assert studies.refresh_study_status(study_id=study.pk).status == Study.Status.DRAFT


def test_open_with_a_pending_pair_fails_clearly():
    study = generating_study()
    fake_generate(study.pairs.select_related("job").first().job)
    with pytest.raises(ValidationError) as info:
        services.open_study(study=study)
    assert info.value.messages == ["Study 's' cannot open: 1 of 2 pairs are not generated."]
    assert Study.objects.get(pk=study.pk).status == Study.Status.GENERATING


def test_open_refuses_attention_checks_with_fewer_than_two_pairs():
    study = make_study(slug="s", prompts=1)
    services.queue_study_generation(study=study)
    fake_generate(study.pairs.select_related("job").get().job)
    Study.objects.filter(pk=study.pk).update(attention_checks=2)  # set after generation (the form refuses it)
    with pytest.raises(ValidationError) as info:
        services.open_study(study=study)
    assert "attention_checks" in info.value.message_dict
    assert "Study 's' has 1 pair, too few for attention checks (2)" in info.value.messages[0]
    assert Study.objects.get(pk=study.pk).status == Study.Status.GENERATING
    Study.objects.filter(pk=study.pk).update(attention_checks=0)
    assert services.open_study(study=study).status == Study.Status.OPEN


def test_open_a_draft_fails():
    study = make_study(slug="s")
    with pytest.raises(ValidationError, match="draft"):
        services.open_study(study=study)
    assert Study.objects.get(pk=study.pk).status == Study.Status.DRAFT


def test_open_close_reopen():
    study = generating_study()
    for pair in study.pairs.select_related("job"):
        fake_generate(pair.job)
    assert services.open_study(study=study).status == Study.Status.OPEN
    assert services.open_study(study=study).status == Study.Status.OPEN  # opening twice is harmless
    assert services.close_study(study=study).status == Study.Status.CLOSED
    with pytest.raises(ValidationError, match="not open"):
        services.close_study(study=study)
    assert services.open_study(study=study).status == Study.Status.OPEN
    assert Study.objects.get(pk=study.pk).status == Study.Status.OPEN


def test_close_a_draft_fails():
    study = make_study(slug="s")
    with pytest.raises(ValidationError, match="is not open"):
        services.close_study(study=study)


# consent ------------------------------------------------------------------------------------------


@pytest.mark.parametrize("prompts", [4, 6])
def test_consent_assigns_every_pair_in_order_with_balanced_sides(prompts):
    study, (annotator, _) = make_open_study(slug="s", prompts=prompts)
    services.give_consent(annotator=annotator)
    annotator.refresh_from_db()
    assert annotator.consented_at is not None
    assignments = list(annotator.assignments.order_by("order"))
    assert [a.order for a in assignments] == list(range(prompts))
    assert sorted(a.pair_id for a in assignments) == sorted(study.pairs.values_list("pk", flat=True))
    assert sum(a.ours_on_left for a in assignments) == prompts // 2


def test_consent_with_odd_count_is_within_one():
    study, (annotator, _) = make_open_study(slug="s", prompts=5)
    services.give_consent(annotator=annotator)
    assert annotator.assignments.filter(ours_on_left=True).count() in (2, 3)
    assert annotator.assignments.count() == 5


def test_consent_twice_keeps_the_first_layout():
    _, (annotator, _) = make_open_study(slug="s", prompts=4)
    services.give_consent(annotator=annotator)
    first = list(annotator.assignments.values_list("pk", "pair_id", "order", "ours_on_left"))
    consented_at = Annotator.objects.get(pk=annotator.pk).consented_at
    services.give_consent(annotator=annotator)
    assert list(annotator.assignments.values_list("pk", "pair_id", "order", "ours_on_left")) == first
    assert Annotator.objects.get(pk=annotator.pk).consented_at == consented_at


# submit_rating ------------------------------------------------------------------------------------


@pytest.fixture
def consented():
    study, (annotator, other) = make_open_study(slug="s", prompts=2)
    services.give_consent(annotator=annotator)
    services.give_consent(annotator=other)
    return annotator, other


def assignment_with_side(annotator: Annotator, ours_on_left: bool) -> Assignment:
    assignment = annotator.assignments.order_by("order").first()
    Assignment.objects.filter(pk=assignment.pk).update(ours_on_left=ours_on_left)
    assignment.refresh_from_db()
    return assignment


@pytest.mark.parametrize("ours_on_left", [True, False])
def test_submit_maps_sides_to_arms(consented, ours_on_left):
    annotator, _ = consented
    assignment = assignment_with_side(annotator, ours_on_left)
    result = services.submit_rating(
        annotator_id=annotator.pk, assignment_id=assignment.pk, scores={"left": 9, "right": "2"}
    )
    assert result.created
    rating = pair_rating(assignment=assignment)
    if ours_on_left:
        assert (rating.ours_score, rating.baseline_score) == (9, 2)
    else:
        assert (rating.ours_score, rating.baseline_score) == (2, 9)


def test_double_submit_stores_one_rating(consented):
    annotator, _ = consented
    assignment = assignment_with_side(annotator, True)
    first = services.submit_rating(
        annotator_id=annotator.pk, assignment_id=assignment.pk, scores={"left": 7, "right": 3}
    )
    second = services.submit_rating(
        annotator_id=annotator.pk, assignment_id=assignment.pk, scores={"left": 1, "right": 1}
    )
    assert first.created and not second.created
    assert pair_ratings().count() == 1
    rating = pair_rating()
    assert (rating.ours_score, rating.baseline_score) == (7, 3)


@pytest.mark.parametrize(
    ("left", "right", "field"),
    [(0, 5, "left"), (5, 11, "right"), ("abc", 5, "left"), (5, None, "right"), ("", 5, "left"), ("4.5", 5, "left")],
)
def test_bad_scores_raise_and_store_nothing(consented, left, right, field):
    annotator, _ = consented
    assignment = annotator.assignments.first()
    with pytest.raises(ValidationError) as info:
        services.submit_rating(
            annotator_id=annotator.pk, assignment_id=assignment.pk, scores={"left": left, "right": right}
        )
    assert field in info.value.message_dict
    assert pair_ratings().count() == 0


def test_another_annotators_assignment_is_not_found(consented):
    annotator, other = consented
    theirs = other.assignments.first()
    with pytest.raises(Assignment.DoesNotExist):
        services.submit_rating(annotator_id=annotator.pk, assignment_id=theirs.pk, scores={"left": 5, "right": 5})
    assert pair_ratings().count() == 0


def test_seconds_measured_from_shown_at(consented):
    annotator, _ = consented
    assignment = annotator.assignments.first()
    Assignment.objects.filter(pk=assignment.pk).update(shown_at=timezone.now() - timedelta(seconds=12))
    services.submit_rating(annotator_id=annotator.pk, assignment_id=assignment.pk, scores={"left": 5, "right": 6})
    assert 11.99 <= pair_rating(assignment=assignment).seconds < 22  # SQLite measures to the millisecond


def test_mark_shown_keeps_the_first_stamp(consented):
    annotator, _ = consented
    assignment = annotator.assignments.first()
    sequence.mark_shown(assignment_id=assignment.pk, annotator_id=annotator.pk)
    first = Assignment.objects.get(pk=assignment.pk).shown_at
    assert first is not None and Annotator.objects.get(pk=annotator.pk).started_at == first
    sequence.mark_shown(assignment_id=assignment.pk, annotator_id=annotator.pk)
    assert Assignment.objects.get(pk=assignment.pk).shown_at == first
    later = annotator.assignments.exclude(pk=assignment.pk).first()
    sequence.mark_shown(assignment_id=later.pk, annotator_id=annotator.pk)
    assert Assignment.objects.get(pk=later.pk).shown_at >= first
    assert Annotator.objects.get(pk=annotator.pk).started_at == first


def test_seconds_is_none_when_never_shown(consented):
    annotator, _ = consented
    assignment = annotator.assignments.first()
    services.submit_rating(annotator_id=annotator.pk, assignment_id=assignment.pk, scores={"left": 5, "right": 6})
    assert pair_rating(assignment=assignment).seconds is None


def test_completion_code_after_the_last_rating(consented):
    annotator, other = consented
    first, last = annotator.assignments.order_by("order")
    services.submit_rating(annotator_id=annotator.pk, assignment_id=first.pk, scores={"left": 5, "right": 6})
    annotator.refresh_from_db()
    assert annotator.finished_at is None and annotator.completion_code == ""
    services.submit_rating(annotator_id=annotator.pk, assignment_id=last.pk, scores={"left": 5, "right": 6})
    annotator.refresh_from_db()
    assert annotator.finished_at is not None
    assert len(annotator.completion_code) >= 6
    other.refresh_from_db()
    assert other.finished_at is None and other.completion_code == ""


def test_create_annotators_gives_distinct_long_tokens():
    study, _ = make_open_study(slug="s", annotators=1)
    made = services.create_annotators(study=study, count=3)
    tokens = {a.token for a in Annotator.objects.filter(study=study)}
    assert len(made) == 3 and len(tokens) == 4
    assert all(len(token) >= 40 for token in tokens)
    with pytest.raises(ValidationError):
        services.create_annotators(study=study, count=0)
    with pytest.raises(ValidationError, match="At most 5000 annotators can be created at once"):
        services.create_annotators(study=study, count=5001)
    assert Annotator.objects.filter(study=study).count() == 4
