"""The "generate at the training size, then resize" baseline: what a resize job stores, records and refuses."""

import numpy as np
import pytest
from django.core.exceptions import ValidationError
from django.core.files.storage import default_storage
from django.db import IntegrityError, transaction
from django.urls import reverse
from PIL import Image

from generation.batching import batch_key, group_jobs
from generation.models import PairJob
from generation.tasks import generate_pair_jobs
from tests.generation.test_tasks import make_job, pixels

pytestmark = pytest.mark.django_db

#: The tiny model's training size (its UNet's sample size, 8 latent pixels, times the VAE's 8).
TRAIN = 64
REFUSED = "The resize width and height must both be given, between 8 and 4096 pixels, or both be empty."


def stored_size(name: str) -> tuple[int, int]:
    with default_storage.open(name) as handle:
        return Image.open(handle).size


def generated(job: PairJob) -> PairJob:
    assert generate_pair_jobs([job.pk])["done"] == 1
    job.refresh_from_db()
    return job


@pytest.mark.parametrize(("width", "height"), [(96, 80), (40, 24)], ids=["enlarged", "shrunk"])
def test_a_resize_job_stores_images_of_the_resize_size(tiny_model, width, height):
    job = generated(make_job(tiny_model, width=TRAIN, height=TRAIN, resize_width=width, resize_height=height))
    assert stored_size(job.baseline_image) == stored_size(job.ours_image) == (width, height)


def test_a_resized_image_is_the_lanczos_resize_of_the_image_generated_at_the_training_size(tiny_model):
    plain = generated(make_job(tiny_model, width=TRAIN, height=TRAIN))
    resized = generated(make_job(tiny_model, width=TRAIN, height=TRAIN, resize_width=96, resize_height=80))
    with default_storage.open(plain.ours_image) as handle:
        source = Image.open(handle).convert("RGB")
        source.load()
    expected = np.asarray(source.resize((96, 80), Image.Resampling.LANCZOS)).astype(int)
    # another filter gives other pixels, so the comparison tells Lanczos from the rest
    assert (np.asarray(source.resize((96, 80), Image.Resampling.BICUBIC)).astype(int) != expected).any()
    # at the training size the factor is 1: both arms hold the same resized image
    for name in (resized.baseline_image, resized.ours_image):
        assert np.array_equal(pixels(name), expected)


def test_the_metadata_records_the_resize_and_its_filter(tiny_model):
    resized = generated(make_job(tiny_model, width=TRAIN, height=TRAIN, resize_width=96, resize_height=80))
    assert resized.metadata["resized_to"] == [96, 80] and resized.metadata["resample"] == "lanczos"
    assert (resized.metadata["width"], resized.metadata["height"]) == (TRAIN, TRAIN)
    plain = generated(make_job(tiny_model, width=TRAIN, height=TRAIN))
    assert "resized_to" not in plain.metadata and "resample" not in plain.metadata


BAD_RESIZE_SIZES = [(96, None), (None, 96), (4, 96), (96, 0), (4097, 96), (96, 4097)]


@pytest.mark.parametrize(("resize_width", "resize_height"), BAD_RESIZE_SIZES)
def test_a_resize_size_must_be_whole_and_in_range(resize_width, resize_height):
    with pytest.raises(ValidationError) as error:
        make_job("any", resize_width=resize_width, resize_height=resize_height)
    assert error.value.messages == [REFUSED]
    assert PairJob.objects.count() == 0


@pytest.mark.parametrize(("resize_width", "resize_height"), BAD_RESIZE_SIZES)
def test_the_database_refuses_a_resize_size_that_is_half_given_or_out_of_range(resize_width, resize_height):
    with pytest.raises(IntegrityError, match="pairjob_resize_size_valid"), transaction.atomic():
        PairJob.objects.create(prompt="p", model="m", resize_width=resize_width, resize_height=resize_height)
    job = PairJob.objects.create(prompt="p", model="m")
    with pytest.raises(IntegrityError, match="pairjob_resize_size_valid"), transaction.atomic():
        PairJob.objects.filter(pk=job.pk).update(resize_width=resize_width, resize_height=resize_height)


@pytest.mark.parametrize(("resize_width", "resize_height"), [(None, None), (8, 8), (4096, 4096), (100, 30)])
def test_a_resize_size_both_empty_or_both_in_range_is_accepted(resize_width, resize_height):
    job = make_job("any", resize_width=resize_width, resize_height=resize_height)
    job.refresh_from_db()
    assert (job.resize_width, job.resize_height) == (resize_width, resize_height)


def test_jobs_that_resize_differently_do_not_share_a_batch():
    plain = make_job("m")
    small, also_small = (make_job("m", seed=seed, resize_width=32, resize_height=32) for seed in (1, 2))
    wide = make_job("m", resize_width=64, resize_height=32)
    tall = make_job("m", resize_width=32, resize_height=64)
    keys = [batch_key(job) for job in (plain, small, wide, tall)]
    assert len(set(keys)) == 4
    assert batch_key(small) == batch_key(also_small)
    groups = group_jobs([tall, wide, also_small, small, plain])
    assert sorted([job.pk for job in group] for group in groups) == sorted(
        [[plain.pk], [small.pk, also_small.pk], [wide.pk], [tall.pk]]
    )


def test_the_admin_shows_the_resize_size_read_only(admin_client):
    job = make_job("m", resize_width=96, resize_height=80)
    page = admin_client.get(reverse("admin:generation_pairjob_change", args=[job.pk])).content.decode()
    assert "Resize width" in page and "Resize height" in page
    assert 'name="resize_width"' not in page and 'name="resize_height"' not in page
    assert '<div class="readonly">96</div>' in page and '<div class="readonly">80</div>' in page
    listing = admin_client.get(reverse("admin:generation_pairjob_changelist")).content.decode()
    assert "column-resize_width" in listing and "column-resize_height" in listing
    add = admin_client.get(reverse("admin:generation_pairjob_add")).content.decode()
    assert 'name="resize_width"' in add and 'name="resize_height"' in add
