"""End to end: sample a reference set, generate both arms with the tiny model through the Celery task, compute FID
(tiny random feature network) and CLIP score (tiny CLIP), store, resume after a kill, and write the paper table.

The Celery task runs in-process (``task_always_eager``): ``queue_pair_jobs`` sends ``generate_pair_jobs`` exactly as
for a human study, and the worker process path is covered by tests/integration.
"""

import threading

import pytest
from django.core.files.storage import default_storage
from django.core.management import call_command
from django.core.management.base import CommandError

from analysis.paper_table import paper_rows, paper_table_documents, results_section
from evalsite.celery import app
from generation.models import PairJob
from metrics import checkpoint as checkpoints
from metrics import services
from metrics.checkpoint import checkpoint_path  # noqa
from metrics.features import FidFeatures
from metrics.models import MetricResult, MetricsJob, MetricsRun, ReferenceSet
from metrics.references import sample_reference
from metrics.selectors import metric_rows
from metrics.tiny import save_tiny_clip
from tests.factories import make_study

from .conftest import write_folder

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def eager():
    app.conf.task_always_eager = True
    yield
    app.conf.task_always_eager = False


@pytest.fixture
def setup(tmp_path, tiny_model, eager):
    study = make_study(slug="laion", model=tiny_model, width=64, height=64, steps=2, base_seed=100)
    reference = sample_reference(source=write_folder(tmp_path / "laion", count=5), n=5, seed=0, name="laion-5")
    return study, reference


def values(study) -> dict:
    return {(r.metric, r.arm, r.width, r.height): r.value for r in MetricResult.objects.filter(run__study=study)}


def run_command(study, *extra, resolutions=("64x64", "96x96")):
    call_command(
        "evaluate_metrics",
        study.slug,
        "--reference",
        "laion-5",
        "--metrics",
        "fid",
        "clip",
        "--resolution",
        *resolutions,
        "--poll",
        "0.05",
        *extra,
    )


def test_both_arms_at_each_resolution(setup, capsys):
    study, reference = setup
    run_command(study)
    links = MetricsJob.objects.select_related("job")
    assert links.count() == 10 and {link.job.status for link in links} == {PairJob.Status.DONE}
    assert sorted(link.job.seed for link in links if link.width == 64) == [100, 101, 102, 103, 104]
    assert {link.job.prompt for link in links} == set(reference.items.values_list("caption", flat=True))
    assert max(link.job.metadata["batch_size"] for link in links) == 4  # batched as a study's pairs are
    results = MetricResult.objects.all()
    assert results.count() == 8
    assert {(r.images, r.failed) for r in results} == {(5, 0)}
    assert {r.reference_images for r in results if r.metric == "fid"} == {5}
    got = values(study)
    # At the training size the factor is 1: both arms are the same images, so the same numbers.
    assert got[("fid", "baseline", 64, 64)] == pytest.approx(got[("fid", "ours", 64, 64)])
    assert got[("clip", "baseline", 64, 64)] == pytest.approx(got[("clip", "ours", 64, 64)])
    assert got[("fid", "baseline", 96, 96)] != got[("fid", "ours", 96, 96)]
    assert all(value >= 0 for key, value in got.items() if key[0] == "clip")
    assert "96×96 ours     FID" in capsys.readouterr().out

    class Effect:
        estimate, ci, p = 0.42, (0.1, 0.74), 0.0004

    rows = paper_rows(metric_rows(study), Effect(), (study.width, study.height))
    assert [(row.width, row.height) for row in rows] == [(64, 64), (96, 96)]
    assert rows[0].human_estimate == 0.42 and rows[1].human_estimate is None
    documents = paper_table_documents(rows, ["markdown", "latex", "json"])
    table = documents["paper-table.md"]
    assert "| laion | laion-5 | 64×64 | 5 |" in table and "+0.42 [+0.10, +0.74] | < 0.001 |" in table
    assert "tiny-random, not Inception-v3" in table
    assert r"64$\times$64" in documents["paper-table.tex"]
    assert results_section(paper_rows(metric_rows(study)))["rows"][1][2] == "96×96"


def test_a_killed_run_resumes_where_it_stopped(setup, monkeypatch, settings):
    study, reference = setup
    real_add = FidFeatures.add
    calls = {"n": 0}

    def dying_add(self, sums, images):
        calls["n"] += 1
        if calls["n"] == 6:
            raise KeyboardInterrupt  # stopped in the second batch of generated pairs
        real_add(self, sums, images)

    monkeypatch.setattr(FidFeatures, "add", dying_add)
    with pytest.raises(KeyboardInterrupt):
        run_command(study, resolutions=["96x96"])
    assert MetricResult.objects.count() == 0
    added = {"images": 0}

    def counting_add(self, sums, images):
        added["images"] += len(images)
        real_add(self, sums, images)

    monkeypatch.setattr(FidFeatures, "add", counting_add)
    run_command(study, resolutions=["96x96"])
    # 5 reference + 2 arms × 5 generated images; the checkpoint held the reference (batches of 3 and 2) and the
    # first batch of 3 pairs; the batch in flight is done again.
    assert added["images"] == 15 - (5 + 2 * 3)
    resumed = values(study)
    assert len(resumed) == 4
    for path in settings.EVALSITE_METRICS_DIR.iterdir():
        path.unlink()
    added["images"] = 0
    run_command(study, resolutions=["96x96"])  # from scratch: the pairs are done, only features are recomputed
    assert added["images"] == 15
    assert values(study) == pytest.approx(resumed)
    assert PairJob.objects.count() == 5


def test_timeout_leaves_a_resumable_run(setup, monkeypatch):
    study, _ = setup
    monkeypatch.setattr(services, "queue_pair_jobs", lambda job_ids: 0)  # no worker picks the jobs up
    with pytest.raises(CommandError, match="10 pair jobs are not generated yet; run the command again"):
        run_command(study, "--timeout", "0")
    assert MetricResult.objects.count() == 0


def test_setup_errors_come_before_any_job(setup, settings, tmp_path):
    study, _ = setup
    settings.EVALSITE_CLIP_MODEL = tmp_path / "no-clip"
    with pytest.raises(CommandError, match="No CLIP model at"):
        run_command(study)
    assert PairJob.objects.count() == 0


def test_a_rerun_queues_failed_jobs_again_and_pending_ones_when_asked(setup, monkeypatch):
    study, _ = setup
    queued = []
    monkeypatch.setattr(services, "queue_pair_jobs", lambda job_ids: queued.append(sorted(job_ids)))
    with pytest.raises(CommandError):
        run_command(study, "--timeout", "0", resolutions=["64x64"])
    ids = sorted(MetricsJob.objects.values_list("job_id", flat=True))
    assert queued == [ids]  # created and queued once, in one chunk
    PairJob.objects.filter(pk=ids[0]).update(status=PairJob.Status.FAILED, error="out of memory")
    queued.clear()
    with pytest.raises(CommandError):
        run_command(study, "--timeout", "0", resolutions=["64x64"])
    assert queued == [[ids[0]]] and MetricsJob.objects.count() == 5
    queued.clear()
    with pytest.raises(CommandError):
        run_command(study, "--timeout", "0", "--requeue-pending", resolutions=["64x64"])
    assert queued == [ids]


@pytest.mark.parametrize(
    "extra, flag",
    [
        (["--poll", "0"], "--poll"),
        (["--poll", "-1"], "--poll"),
        (["--poll", "nan"], "--poll"),
        (["--poll", "inf"], "--poll"),
        (["--timeout", "-5"], "--timeout"),
        (["--timeout", "nan"], "--timeout"),
    ],
)
def test_poll_and_timeout_out_of_range_are_refused_before_any_job(tmp_path, extra, flag):
    make_study(slug="laion", width=64, height=64, steps=2)  # its model is never loaded: the refusal comes first
    sample_reference(source=write_folder(tmp_path / "laion", count=3), n=3, seed=0, name="laion-5")
    with pytest.raises(CommandError, match=f"^{flag} must be"):
        call_command("evaluate_metrics", "laion", "--reference", "laion-5", "--metrics", "fid", *extra)
    assert PairJob.objects.count() == 0 and MetricsJob.objects.count() == 0


def evaluate(study, *extra, reference="laion-5"):
    call_command("evaluate_metrics", study.slug, "--reference", reference, "--poll", "0.05", *extra)


def written() -> tuple[int, int, int, int]:
    return (
        MetricsRun.objects.count(),
        MetricsJob.objects.count(),
        PairJob.objects.count(),
        MetricResult.objects.count(),
    )


def test_another_clip_model_starts_the_clip_sums_over(setup, settings, tmp_path, capsys):
    study, _ = setup
    folder = save_tiny_clip(tmp_path / "clip", seed=0)
    settings.EVALSITE_CLIP_MODEL = folder
    evaluate(study, "--metrics", "clip", "--resolution", "64x64")
    first = values(study)
    first_label = MetricResult.objects.values_list("feature_network", flat=True).first()
    save_tiny_clip(folder, seed=5)  # other weights in the same folder
    evaluate(study, "--metrics", "clip", "--resolution", "64x64")
    assert "CLIP score sums start over" in capsys.readouterr().out
    changed = values(study)
    assert MetricResult.objects.values_list("feature_network", flat=True).first() != first_label
    for path in settings.EVALSITE_METRICS_DIR.iterdir():
        path.unlink()
    evaluate(study, "--metrics", "clip", "--resolution", "64x64")
    assert values(study) == pytest.approx(changed)
    assert changed != pytest.approx(first)


def test_a_checkpoint_of_another_study_and_subset_is_refused(tmp_path, tiny_model, eager, settings):
    """A fresh database gives the same ids again: the checkpoint under that id belongs to something else."""
    first = make_study(slug="first", model=tiny_model, width=64, height=64, steps=2, base_seed=100)
    sample_reference(source=write_folder(tmp_path / "r1", count=5), n=5, seed=0, name="r1")
    evaluate(first, "--metrics", "fid", "--resolution", "64x64", reference="r1")
    old_run, old_reference = MetricsRun.objects.get(), ReferenceSet.objects.get()
    second = make_study(slug="second", model=tiny_model, width=64, height=64, steps=2, base_seed=7)
    reference = sample_reference(source=write_folder(tmp_path / "r2", count=3), n=3, seed=1, name="r2")
    run = MetricsRun.objects.create(study=second, reference=reference)
    folder = settings.EVALSITE_METRICS_DIR
    (folder / f"reference-{reference.pk}-tiny-random.pt").write_bytes(
        (folder / f"reference-{old_reference.pk}-tiny-random.pt").read_bytes()
    )
    (folder / f"run-{run.pk}-tiny-random.pt").write_bytes((folder / f"run-{old_run.pk}-tiny-random.pt").read_bytes())
    before = written()
    with pytest.raises(CommandError, match=r"holds the sums of reference 'r1'.* not of reference 'r2'.*move .* away"):
        evaluate(second, "--metrics", "fid", "--resolution", "64x64", reference="r2")
    (folder / f"reference-{reference.pk}-tiny-random.pt").unlink()
    with pytest.raises(CommandError, match=r"holds the sums of study 'first'.* not of study 'second'"):
        evaluate(second, "--metrics", "fid", "--resolution", "64x64", reference="r2")
    assert written() == before


def test_edited_generation_settings_are_refused_not_served_old_images(setup):
    study, _ = setup
    evaluate(study, "--metrics", "clip", "--resolution", "64x64")
    before, results = written(), values(study)
    study.steps, study.guidance_scale, study.base_seed = 3, 1.0, 7
    study.save()
    with pytest.raises(
        CommandError,
        match=r"other generation settings: steps \(jobs: 2; study now: 3\), "
        r"guidance_scale .*base_seed \(jobs: 100; study now: 7\)"
        r".*delete the metrics run",
    ):
        evaluate(study, "--metrics", "clip", "--resolution", "64x64", "96x96")
    assert written() == before and values(study) == results
    MetricsRun.objects.all().delete()  # as the message says: a fresh run
    evaluate(study, "--metrics", "clip", "--resolution", "64x64")
    assert {(link.job.steps, link.job.seed) for link in MetricsJob.objects.select_related("job")} == {
        (3, 7 + index) for index in range(5)
    }


@pytest.mark.parametrize(
    "sizes, message",
    [
        (["64x64", "60x60"], "--resolution 60x60: width and height must be multiples of 8"),
        (["0x64"], "--resolution 0x64: width and height must be from 8 to 4096"),
        (["4104x64"], "--resolution 4104x64: width and height must be from 8 to 4096"),
        (["64by64"], "--resolution '64by64' is not WIDTHxHEIGHT"),
    ],
)
def test_every_resolution_is_checked_before_any_job(setup, monkeypatch, sizes, message):
    study, _ = setup
    monkeypatch.setattr(services, "queue_pair_jobs", lambda job_ids: 0)
    with pytest.raises(CommandError, match=message):
        evaluate(study, "--metrics", "clip", "--timeout", "0", "--resolution", *sizes)
    assert written() == (0, 0, 0, 0)


def test_the_model_family_size_rule_is_checked_before_any_job(tmp_path, monkeypatch):
    study = make_study(slug="pixart", model="pixart-unused", width=64, height=64, steps=2)
    study.model.family = "pixart"
    study.model.save()
    sample_reference(source=write_folder(tmp_path / "laion", count=3), n=3, seed=0, name="laion-5")
    monkeypatch.setattr(services, "queue_pair_jobs", lambda job_ids: 0)
    with pytest.raises(CommandError, match="--resolution 72x72: A PixArt.* multiple of 16 pixels"):
        evaluate(study, "--metrics", "clip", "--timeout", "0", "--resolution", "64x64", "72x72")
    assert written() == (0, 0, 0, 0)


def test_an_unreadable_generated_image_is_counted_as_failed_for_both_arms(setup, settings, caplog, capsys):
    study, _ = setup
    run_command(study, resolutions=["64x64"])
    jobs = [link.job for link in MetricsJob.objects.select_related("job").order_by("index")]
    default_storage.delete(jobs[0].ours_image)
    with default_storage.open(jobs[1].baseline_image, "wb") as handle:
        handle.write(b"not a png")
    MetricResult.objects.all().delete()
    for path in settings.EVALSITE_METRICS_DIR.iterdir():
        path.unlink()
    caplog.set_level("WARNING", logger="metrics.services")
    run_command(study, resolutions=["64x64"])
    results = MetricResult.objects.all()
    assert results.count() == 4 and {(r.images, r.failed) for r in results} == {(3, 2)}
    warnings = [record.getMessage() for record in caplog.records if "cannot be read" in record.getMessage()]
    assert len(warnings) == 2 and f"Pair job {jobs[0].pk} (caption 0 at 64x64)" in warnings[0]
    assert "2 pairs have an image that cannot be read" in capsys.readouterr().err


def test_a_damaged_checkpoint_is_a_command_error(setup, settings):
    study, _ = setup
    evaluate(study, "--metrics", "clip", "--resolution", "64x64")
    (checkpoint,) = [path for path in settings.EVALSITE_METRICS_DIR.glob("run-*.pt")]
    checkpoint.write_bytes(checkpoint.read_bytes()[:100])
    with pytest.raises(CommandError, match=f"The checkpoint {checkpoint} cannot be read"):
        evaluate(study, "--metrics", "clip", "--resolution", "64x64")


def test_a_second_process_on_the_run_is_refused_and_one_on_the_reference_waits(setup, settings, capsys):
    study, reference = setup
    evaluate(study, "--metrics", "clip", "--resolution", "64x64")
    run = MetricsRun.objects.get()
    with checkpoints.locked(checkpoint_path(f"run-{run.pk}-none.pt"), wait=False):
        with pytest.raises(CommandError, match="Another evaluate_metrics is adding to"):
            evaluate(study, "--metrics", "clip", "--resolution", "64x64")
    held, release = threading.Event(), threading.Event()

    def other_process():
        with checkpoints.locked(checkpoint_path(f"reference-{reference.pk}-tiny-random.pt"), wait=False):
            held.set()
            release.wait(5)

    thread = threading.Thread(target=other_process)
    thread.start()
    held.wait(5)
    threading.Timer(0.5, release.set).start()
    evaluate(study, "--metrics", "fid", "--resolution", "64x64")
    thread.join()
    assert "waiting for another evaluate_metrics to finish the reference sums" in capsys.readouterr().out
    assert MetricResult.objects.filter(metric="fid").count() == 2
