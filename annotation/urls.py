"""Ranking's API routes (mounted under /api/v1/) and labeler pages (mounted under /label/) for config.urls."""

from django.urls import path

from annotation import api, runs_api, views

api_urlpatterns = [
    path("annotation/next", api.NextTaskApi.as_view(), name="annotation-next"),
    path("annotation/undo", api.UndoApi.as_view(), name="annotation-undo"),
    path("annotation/rankings", api.RankingListApi.as_view(), name="annotation-rankings"),
    path("annotation/stats", api.StatsApi.as_view(), name="annotation-stats"),
    path("annotation/judge-runs", runs_api.JudgeListCreateApi.as_view(), name="annotation-judge-runs"),
    path("annotation/judge-runs/<int:run_id>", runs_api.JudgeDetailApi.as_view(), name="annotation-judge-run"),
    path("annotation/tasks/<int:task_id>/ranking", api.SubmitRankingApi.as_view(), name="annotation-task-ranking"),
    path("annotation/tasks/<int:task_id>/skip", api.TaskSkipApi.as_view(), name="annotation-task-skip"),
    path("annotation/tasks/<int:task_id>/heartbeat", api.TaskHeartbeatApi.as_view(), name="annotation-task-heartbeat"),
    path("sampling-runs", runs_api.SamplingListCreateApi.as_view(), name="sampling-list"),
    path("sampling-runs/<int:run_id>", runs_api.SamplingDetailApi.as_view(), name="sampling-detail"),
]

label_urlpatterns = [
    path("", views.label_home, name="label-home"),
    path("<slug:slug>/", views.label_next, name="label-next"),
    path("<slug:slug>/tasks/<int:task_id>/submit", views.label_submit, name="label-submit"),
    path("<slug:slug>/tasks/<int:task_id>/skip", views.label_skip, name="label-skip"),
    path("<slug:slug>/undo", views.label_undo, name="label-undo"),
    path("<slug:slug>/dashboard/", views.dashboard, name="label-dashboard"),
]
