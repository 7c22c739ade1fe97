"""Every write of studies, annotators and ratings; views, admin actions, tasks and commands call these.

- ``studies``: creating a study, checking its settings, generating its pairs, opening and closing it;
- ``enrolment``: invite links, open and Prolific enrolment, consent and laying out an annotator's pairs;
- ``ratings``: storing an answer once, screening out and finishing an annotator;
- ``pilots``: pilot runs of a study (preview and pilot link), which count nowhere, and deleting them;
- ``prompt_import``: adding a prompt file's prompts to a draft study;
- ``rating_import``: importing tidy ratings collected elsewhere;
- ``demo``: the demo study of ``make run``.

Below, the steps of a study's life, for callers outside this app.
"""

from .enrolment import create_annotators, give_consent
from .ratings import submit_rating
from .studies import close_study, create_study, open_study, queue_study_generation, refresh_study_status

__all__ = [
    "create_study",
    "queue_study_generation",
    "refresh_study_status",
    "open_study",
    "close_study",
    "create_annotators",
    "give_consent",
    "submit_rating",
]
