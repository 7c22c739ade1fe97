from django.urls import path

from . import views

app_name = "analysis"
urlpatterns = [
    path("<slug:slug>/", views.results, name="results"),
    path("<slug:slug>/bundle/", views.build_bundle, name="bundle_build"),
    path("<slug:slug>/bundle/status/", views.bundle_status, name="bundle_status"),
    path("<slug:slug>/bundle/<int:bundle_id>/results.zip", views.bundle_zip, name="bundle_zip"),
    path("<slug:slug>/bundle/<int:bundle_id>/files/<str:name>", views.bundle_file, name="bundle_file"),
]
