from django.urls import path

from . import views

app_name = "annotations"
urlpatterns = [
    path("<str:token>/", views.invite, name="invite"),
    path("<str:token>/rate/", views.rate, name="rate"),
    path("<str:token>/image/<int:order>/<str:side>.png", views.image, name="image"),
    path("<str:token>/done/", views.done, name="done"),
]
