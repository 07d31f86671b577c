from django.contrib import admin
from django.urls import include, path

from collab import ops
from notes.views import accounts, pages

urlpatterns = [
    # Browsers ask for /favicon.ico on pages without an icon link (the admin's, for one).
    path("favicon.ico", pages.favicon),
    path("healthz", ops.healthz, name="healthz"),
    path("metrics", ops.metrics_view, name="metrics"),
    path("admin/", admin.site.urls),
    path("accounts/signup/", accounts.signup, name="signup"),
    path("accounts/logout/", accounts.LogoutView.as_view(), name="logout"),
    path("accounts/", include("django.contrib.auth.urls")),
    path("", include("notes.urls")),
]
