from django.apps import AppConfig


class SecurityConfig(AppConfig):
    name = "apps.security"
    label = "security"
    verbose_name = "Sign-in security"
    default_auto_field = "django.db.models.BigAutoField"
