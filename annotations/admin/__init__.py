"""The admin of studies and their answers, registered here.

- ``studies``: the study page (settings form, prompts table, actions);
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
