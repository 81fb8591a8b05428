from django.contrib import admin
from django.urls import path

from apps.core.paths import API_ROOT
from config.api import api

urlpatterns = [
    path("admin/", admin.site.urls),
    path(API_ROOT.strip("/") + "/", api.urls),
]
