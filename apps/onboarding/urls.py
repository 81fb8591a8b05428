from django.urls import path

from apps.onboarding import views

urlpatterns = [
    # The name the admin's sign-in page looks for to show its "Forgotten your password?" button.
    path("password-reset/", views.password_reset, name="admin_password_reset"),
    path("password-reset/confirm/", views.password_reset_confirm, name="onboarding_password_reset_confirm"),
    path("invitation/", views.invitation_accept, name="onboarding_invitation_accept"),
    path("verify/", views.signup_verify, name="onboarding_signup_verify"),
]
