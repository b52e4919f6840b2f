"""URLs of the example project."""

from django.urls import include, path

urlpatterns = [path("", include("persona_chat.urls"))]
