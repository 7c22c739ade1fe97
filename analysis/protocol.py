"""The protocol of a study, carried by every export so that it can be reproduced."""
from annotations.models import Study
from generation.models import PairJob


def study_protocol(*, study: Study) -> dict:
    """Model, generation settings, seeds, the question, the instructions and the consent text annotators saw, counts,
    and the software that made the images. The analysis adds its own settings and exclusions
    (``exports.manifest_json``)."""
    jobs = PairJob.objects.filter(study_pairs__study=study)
    done = jobs.filter(status=PairJob.Status.DONE)
    example = done.order_by("pk").values_list("metadata", flat=True).first() or {}
    seeds = sorted(jobs.values_list("seed", flat=True))
    return {
        "study": study.slug,
        "title": study.title,
        "question": study.question,
        "instructions": study.instructions,
        "consent_text": study.consent_text,
        "model": study.model.source if study.model else "",
        "model_name": study.model.name if study.model else "",
        "model_family": study.model.family if study.model else "",
        "revision": study.model.revision if study.model else "",
        "train_resolution": [study.model.train_width, study.model.train_height] if study.model else None,
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
        "annotators_invited": study.annotators.count(),
        "annotators_finished": study.annotators.filter(finished_at__isnull=False).count(),
        "generation_software": example.get("versions", {}),
    }
