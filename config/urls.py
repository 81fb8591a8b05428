from django.contrib import admin
from django.urls import include, path

from apps.accounts.admin_login import AdminLoginForm
from apps.core.paths import API_ROOT
from config.api import api

# The admin's sign-in goes through the API login's throttle and login logs.
admin.site.login_form = AdminLoginForm

urlpatterns = [
    path("admin/", admin.site.urls),
    path("i18n/", include("django.conf.urls.i18n")),  # set_language: the admin's language switcher
    path("accounts/", include("apps.onboarding.urls")),  # forgotten password and the mailed links' pages
    path(API_ROOT.strip("/") + "/", api.urls),
]
