"""The protocol of a study, carried by every export so that it can be reproduced."""

from annotations.models import Study
from generation.models import PairJob


def _made_with(*, study: Study, jobs) -> dict:
    """The model source, revision and training size the study's images were made with.

    They are read from the study's pair jobs, which copied them from the registry when they were created, so that
    editing the registry entry later does not rewrite what an export says made the images. All of a study's jobs are
    created together from one registry entry; the first one speaks for them. Only a study without jobs (not yet
    generated) reports its registry entry.
    """
    job = jobs.order_by("pk").values("model", "revision", "train_width", "train_height").first()
    if job is not None:
        train = [job["train_width"], job["train_height"]] if job["train_width"] and job["train_height"] else None
        return {"model": job["model"], "revision": job["revision"], "train_resolution": train}
    model = study.model
    return {
        "model": model.source if model else "",
        "revision": model.revision if model else "",
        "train_resolution": [model.train_width, model.train_height] if model else None,
    }


def study_protocol(*, study: Study) -> dict:
    """Model, generation settings, seeds, the conditions (data key, name in results, kind, reference), the criteria
    (question and scale anchors annotators saw, name in results; ``question`` is the first's), the instructions and
    the consent text annotators saw, counts, and the software that made the images. The analysis adds its own
    settings and exclusions (``formats.manifest_json``)."""
    jobs = PairJob.objects.filter(study_pairs__study=study)
    done = jobs.filter(status=PairJob.Status.DONE)
    example = done.order_by("pk").values_list("metadata", flat=True).first() or {}
    seeds = sorted(jobs.values_list("seed", flat=True))
    made_with = _made_with(study=study, jobs=jobs)
    criteria = list(study.criteria.values("key", "question", "label", "scale_points", "low_anchor", "high_anchor"))
    return {
        "study": study.slug,
        "title": study.title,
        "question": criteria[0]["question"] if criteria else "",
        "criteria": criteria,
        "conditions": list(study.conditions.values("key", "name", "kind", "is_reference")),
        "instructions": study.instructions,
        "consent_text": study.consent_text,
        "model": made_with["model"],
        "model_name": study.model.name if study.model else "",
        "model_family": study.model.family if study.model else "",
        "revision": made_with["revision"],
        "train_resolution": made_with["train_resolution"],
        "pipeline": example.get("pipeline", ""),
        "scheduler": example.get("scheduler", study.scheduler),
        "steps": study.steps,
        "guidance_scale": study.guidance_scale,
        "classifier_free_guidance": example.get("classifier_free_guidance"),
        "negative_prompt": study.negative_prompt,
        "width": study.width,
        "height": study.height,
        "seeds": {"base": study.base_seed, "min": seeds[0] if seeds else None, "max": seeds[-1] if seeds else None},
        "pairs": study.pairs.count(),
        "pairs_generated": done.count(),
        "attention_checks_per_annotator": getattr(study, "attention_checks", 0),
        "annotators_invited": study.annotators.filter(is_pilot=False).count(),  # pilot runs are no annotators
        "annotators_finished": study.annotators.filter(is_pilot=False, finished_at__isnull=False).count(),
        "generation_software": example.get("versions", {}),
    }
