"""End to end: sample a reference set, generate both arms with the tiny model through the Celery task, compute FID
(tiny random feature network) and CLIP score (tiny CLIP), store, resume after a kill, and write the paper table.

The Celery task runs in-process (``task_always_eager``): ``queue_pair_jobs`` sends ``generate_pair_jobs`` exactly as
for a human study, and the worker process path is covered by tests/integration.
"""
import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from evalsite.celery import app
from generation.models import PairJob
from metrics import services
from metrics.features import FidFeatures
from metrics.models import MetricResult, MetricsJob
from metrics.references import sample_reference
from metrics.tables import paper_table_documents, paper_rows, results_section
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
    call_command("evaluate_metrics", study.slug, "--reference", "laion-5", "--metrics", "fid", "clip",
                 "--resolution", *resolutions, "--poll", "0.05", *extra)


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

    rows = paper_rows(study, Effect())
    assert [(row.width, row.height) for row in rows] == [(64, 64), (96, 96)]
    assert rows[0].human_estimate == 0.42 and rows[1].human_estimate is None
    documents = paper_table_documents([study], {"laion": Effect()}, ["markdown", "latex", "json"])
    table = documents["paper-table.md"]
    assert "| laion | laion-5 | 64×64 | 5 |" in table and "+0.42 [+0.10, +0.74] | < 0.001 |" in table
    assert "tiny-random, not Inception-v3" in table
    assert r"64$\times$64" in documents["paper-table.tex"]
    assert results_section(study)["rows"][1][2] == "96×96"


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


@pytest.mark.parametrize("extra, flag", [
    (["--poll", "0"], "--poll"),
    (["--poll", "-1"], "--poll"),
    (["--poll", "nan"], "--poll"),
    (["--poll", "inf"], "--poll"),
    (["--timeout", "-5"], "--timeout"),
    (["--timeout", "nan"], "--timeout"),
])
def test_poll_and_timeout_out_of_range_are_refused_before_any_job(tmp_path, extra, flag):
    make_study(slug="laion", width=64, height=64, steps=2)  # its model is never loaded: the refusal comes first
    sample_reference(source=write_folder(tmp_path / "laion", count=3), n=3, seed=0, name="laion-5")
    with pytest.raises(CommandError, match=f"^{flag} must be"):
        call_command("evaluate_metrics", "laion", "--reference", "laion-5", "--metrics", "fid", *extra)
    assert PairJob.objects.count() == 0 and MetricsJob.objects.count() == 0
