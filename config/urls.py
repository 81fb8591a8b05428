from django.contrib import admin
from django.urls import path

from config.api import API_ROOT, api

urlpatterns = [
    path("admin/", admin.site.urls),
    path(API_ROOT.strip("/") + "/", api.urls),
]
