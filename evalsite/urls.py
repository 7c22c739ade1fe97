from django.contrib import admin
from django.urls import include, path
from django.views.generic import TemplateView

from evalsite import signin

urlpatterns = [
    path("", TemplateView.as_view(template_name="home.html"), name="home"),
    path("admin/", admin.site.urls),
    path("results/", include("analysis.urls")),
    path("api/", include("api.urls")),
    path("", include("annotations.urls")),
]

handler403 = signin.permission_denied
