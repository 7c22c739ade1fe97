"""Adding the prompts of a file (CSV, TSV, JSON Lines, plain text or Parquet; see ``prompt_files``) to a draft study."""

from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Max

from evalsite.progress import BarFactory, NoBar

from ..models import Prompt, Study
from ..prompt_files import read_checked_prompts, sample_prompts
from .studies import check_prompts_editable

#: Prompts stored per INSERT (one transaction holds them all).
PROMPTS_PER_INSERT = 1000


@transaction.atomic
def add_prompts_from_file(
    *,
    study: Study,
    data: bytes,
    filename: str,
    column: str | None = None,
    sample: int | None = None,
    seed: int = 0,
    bar: BarFactory = NoBar,
) -> int:
    """Append a file's prompts (or a seeded sample of them) to a draft study; return how many were added.

    The whole file is read and checked against itself and the study's prompts before sampling, so a
    file with any bad line is rejected whole. New prompts take the positions after the study's last
    one. Raises one ValidationError listing every problem; nothing is written then. ``bar`` shows the prompts
    stored so far (``evalsite.progress``).
    """
    study = Study.objects.select_for_update().get(pk=study.pk)
    check_prompts_editable(study=study)
    texts = read_checked_prompts(
        data, filename=filename, column=column, existing=study.prompts.values_list("text", flat=True)
    )
    if not texts:
        raise ValidationError(f"{filename!r} holds no prompts.")
    if sample is not None:
        texts = sample_prompts(texts, n=sample, seed=seed)
    top = study.prompts.aggregate(top=Max("position"))["top"]
    start = 0 if top is None else top + 1
    with bar(total=len(texts), desc="prompts", unit="prompt") as progress:
        for first in range(0, len(texts), PROMPTS_PER_INSERT):
            chunk = texts[first : first + PROMPTS_PER_INSERT]
            Prompt.objects.bulk_create(
                Prompt(study=study, position=position, text=text)
                for position, text in enumerate(chunk, start=start + first)
            )
            progress.update(len(chunk))
    return len(texts)
