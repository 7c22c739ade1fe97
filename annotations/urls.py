from django.urls import path, register_converter

from . import image_views, pilot_views, staff_views, views
from .models import TOKEN_PATTERN


class TokenConverter:
    """An annotator's or enrolment token: only characters a token can have, so anything else is a 404."""

    regex = TOKEN_PATTERN

    def to_python(self, value: str) -> str:
        return value

    def to_url(self, value: str) -> str:
        return value


register_converter(TokenConverter, "annotation_token")

app_name = "annotations"
urlpatterns = [
    path("a/<annotation_token:token>/", views.invite, name="invite"),
    path("a/<annotation_token:token>/rate/", views.rate, name="rate"),
    path("a/<annotation_token:token>/image/<str:link>.png", image_views.image, name="image"),
    path("a/<annotation_token:token>/example/<str:end>/", image_views.example, name="example"),
    path("a/<annotation_token:token>/done/", views.done, name="done"),
    path("join/<annotation_token:enrolment_token>/", views.join, name="join"),
    path("prolific/<annotation_token:enrolment_token>/", views.prolific, name="prolific"),
    path("pilot/<annotation_token:pilot_token>/", pilot_views.pilot, name="pilot"),
    path("staff/studies/<slug:slug>/monitor/", staff_views.monitoring, name="monitor"),
    path("staff/studies/<slug:slug>/monitor.json", staff_views.monitoring_data, name="monitor_data"),
    path("staff/studies/<slug:slug>/preview/", staff_views.preview, name="preview"),
    path("staff/pairs/<int:pair_id>/<str:arm>.png", staff_views.pair_image, name="pair_image"),
]
