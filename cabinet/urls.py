from django.urls import path

from . import views

app_name = "cabinet"
urlpatterns = [
    path("", views.home, name="home"),
    path("support/", views.support, name="support"),
    path("accounts/", views.accounts, name="accounts"),
    path("credentials/", views.credentials, name="credentials"),
    path("credentials/<int:pk>/", views.credentials_detail, name="credentials_detail"),
    path("credentials/<int:pk>/progress/", views.credentials_progress, name="credentials_progress"),
    path("credentials/<int:pk>/file/", views.credentials_file, name="credentials_file"),
    path("accounts/<str:username>/", views.account_detail, name="account"),
    path("files/<int:pk>/", views.material_file, name="material_file"),
    path("<slug:slug>/", views.tab, name="tab"),
]
