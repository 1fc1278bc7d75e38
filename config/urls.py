from django.contrib import admin
from django.contrib.admin.forms import AdminAuthenticationForm
from django.contrib.auth import views as auth_views
from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerSplitView

from annotation import urls as annotation_urls
from core.api import HealthApi
from exports import urls as exports_urls
from llm import urls as llm_urls
from projects import urls as projects_urls
from projects import views as projects_views
from selfinstruct import urls as selfinstruct_urls
from training import urls as training_urls

# Every API path has no trailing slash; the slashed forms older clients use are answered too
# (core.middleware.ApiTrailingSlashMiddleware), without a redirect, so writes keep working.
api_v1 = [
    path("health", HealthApi.as_view(), name="health"),
    *projects_urls.api_urlpatterns,
    *llm_urls.api_urlpatterns,
    *selfinstruct_urls.api_urlpatterns,
    *annotation_urls.api_urlpatterns,
    *exports_urls.api_urlpatterns,
    *training_urls.api_urlpatterns,
]

urlpatterns = [
    path("", projects_views.home, name="home"),
    path("", include("projects.page_urls")),  # invitations, leaving a project
    path("accounts/login/", projects_views.ThrottledLoginView.as_view(), name="login"),
    path("accounts/logout/", auth_views.LogoutView.as_view(), name="logout"),
    path(
        "admin/login/",
        projects_views.ThrottledLoginView.as_view(
            template_name="admin/login.html",
            authentication_form=AdminAuthenticationForm,
            extra_context={"site_header": admin.site.site_header, "site_title": admin.site.site_title},
        ),
        name="admin-login",
    ),
    path("admin/", admin.site.urls),
    path("api/v1/", include(api_v1)),
    path("label/", include(annotation_urls.label_urlpatterns)),
    path("console/", include("console.urls")),
    # the language switcher in every page's top bar (kept on a signed-in user's account too)
    path("i18n/setlang/", projects_views.set_language, name="set_language"),
    path("api/schema/", SpectacularAPIView.as_view(), name="api-schema"),
    # the split view serves Swagger UI's start-up script as a file: the pages carry no inline script (CSP)
    path("api/docs/", SpectacularSwaggerSplitView.as_view(url_name="api-schema"), name="api-docs"),
]
handler404 = "core.api.not_found"
handler400 = "core.api.bad_request"
handler500 = "core.error_pages.server_error"
