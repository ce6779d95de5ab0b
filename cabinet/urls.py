from django.urls import path

from . import analytics_views, procedure_views, results_views, views

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
    path("procedures/<int:pk>/application/", procedure_views.application, name="application"),
    path(
        "procedures/<int:pk>/schools/<int:school_pk>/application/",
        procedure_views.school_application,
        name="school_application",
    ),
    path("procedures/<int:pk>/progress/", procedure_views.progress_page, name="progress"),
    path("procedures/<int:pk>/progress.xlsx", procedure_views.progress_xlsx, name="progress_xlsx"),
    path("procedures/works/<int:work_pk>/archive/", procedure_views.archive, name="archive"),
    path("procedures/works/<int:work_pk>/results-form/", results_views.results_form, name="results_form"),
    path("procedures/works/<int:work_pk>/results/", results_views.results_upload, name="results_upload"),
    path("procedures/documents/<int:pk>/", procedure_views.material, name="procedure_material"),
    path("analytics/", analytics_views.analytics, name="analytics"),
    path("analytics/schools/", analytics_views.schools, name="analytics_schools"),
    path("analytics/bias/", analytics_views.bias, name="analytics_bias"),
    path("analytics/report.xlsx", analytics_views.report_xlsx, name="analytics_xlsx"),
    path("<slug:slug>/", views.tab, name="tab"),
]
