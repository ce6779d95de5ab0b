from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.urls import include, path

from accounts import views as accounts_views
from fisoko_portal import health

admin.site.site_header = "ФИС ОКО — служба технической поддержки"
admin.site.site_title = "ФИС ОКО"
admin.site.index_title = "Администрирование"

urlpatterns = [
    path("", accounts_views.root, name="root"),
    path("login/", accounts_views.LoginView.as_view(), name="login"),
    path("password/", accounts_views.password_set, name="password_set"),
    path("staff/code/", accounts_views.staff_otp, name="staff_otp"),
    path("staff/setup/", accounts_views.staff_otp_setup, name="staff_otp_setup"),
    path("logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("cabinet/", include("cabinet.urls")),
    path("apply/", include("helpdesk.urls")),
    path("admin/", admin.site.urls),
    path("health/", health.health, name="health"),
]
