from django.urls import path

from . import views

app_name = "helpdesk"
urlpatterns = [
    path("", views.apply, name="apply"),
    path("check/", views.apply_check, name="check"),
    path("done/", views.done, name="done"),
    path("letter/", views.letter_template, name="letter"),
    path("status/", views.status, name="status"),
    path("reply/<str:token>/", views.reply, name="reply"),
]
