"""The admin of studies and their answers, registered here.

- ``studies``: the study page (settings form in fieldsets, prompts table, actions);
- ``study_page``: what the study page shows above its form (state, next step, progress, links to hand out);
- ``steps``, ``duplication``: the study page's buttons (Generate, Open, Close; Duplicate);
- ``presets``: the paper's generation settings, offered on the study form;
- ``prompts``: the prompts table's checks and the prompt file upload page;
- ``invites``: the invite link pages;
- ``answers``: pairs, annotators, assignments and ratings;
- ``guards``: what keeps collected answers from being changed or deleted.
"""

from django.contrib import admin

from ..models import Annotator, Assignment, ImagePair, Rating, Study
from .answers import AnnotatorAdmin, AssignmentAdmin, ImagePairAdmin, RatingAdmin
from .studies import StudyAdmin, StudyForm

admin.site.register(Study, StudyAdmin)
admin.site.register(ImagePair, ImagePairAdmin)
admin.site.register(Annotator, AnnotatorAdmin)
admin.site.register(Assignment, AssignmentAdmin)
admin.site.register(Rating, RatingAdmin)

__all__ = ["AnnotatorAdmin", "AssignmentAdmin", "ImagePairAdmin", "RatingAdmin", "StudyAdmin", "StudyForm"]
