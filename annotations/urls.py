from django.urls import path

from . import staff_views, views

app_name = "annotations"
urlpatterns = [
    path("a/<str:token>/", views.invite, name="invite"),
    path("a/<str:token>/rate/", views.rate, name="rate"),
    path("a/<str:token>/image/<str:link>.png", views.image, name="image"),
    path("a/<str:token>/example/<str:end>/", views.example, name="example"),
    path("a/<str:token>/done/", views.done, name="done"),
    path("join/<str:enrolment_token>/", views.join, name="join"),
    path("prolific/<str:enrolment_token>/", views.prolific, name="prolific"),
    path("staff/studies/<slug:slug>/monitor/", staff_views.monitoring, name="monitor"),
    path("staff/studies/<slug:slug>/preview/", staff_views.preview, name="preview"),
    path("staff/pairs/<int:pair_id>/<str:arm>.png", staff_views.pair_image, name="pair_image"),
]
