"""The console's pages (mounted under /console/ by config.urls)."""

from django.urls import path

from console import (
    curation_views,
    difficulty_views,
    diversity_views,
    model_views,
    playground_views,
    pool_views,
    quality_views,
    ranking_views,
    rating_views,
    settings_views,
    taxonomy_views,
    training_views,
    views,
)

urlpatterns = [
    path("<slug:slug>/", views.overview, name="console-overview"),
    path("<slug:slug>/running", views.running_now, name="console-running"),
    path("<slug:slug>/generation/new", views.new_batch, name="console-new-batch"),
    path("<slug:slug>/batches/<int:batch_id>/", views.batch_page, name="console-batch"),
    path("<slug:slug>/batches/<int:batch_id>/live", views.batch_live, name="console-batch-live"),
    path("<slug:slug>/batches/<int:batch_id>/<str:action>", views.batch_action, name="console-batch-action"),
    path("<slug:slug>/datasets/", views.datasets, name="console-datasets"),
    path("<slug:slug>/datasets/<int:version_id>/", views.dataset_page, name="console-dataset"),
    path("<slug:slug>/datasets/<int:version_id>/live", views.dataset_live, name="console-dataset-live"),
    path("<slug:slug>/training/", views.training, name="console-training"),
    path("<slug:slug>/training/compare", training_views.compare, name="console-training-compare"),
    path("<slug:slug>/training/<int:job_id>/", training_views.job_page, name="console-job"),
    path("<slug:slug>/training/<int:job_id>/live", training_views.job_live, name="console-job-live"),
    path("<slug:slug>/training/<int:job_id>/cancel", training_views.job_cancel, name="console-job-cancel"),
]

urlpatterns += [
    path("<slug:slug>/seeds/", pool_views.seeds, name="console-seeds"),
    path("<slug:slug>/instructions/", pool_views.review, name="console-review"),
    path("<slug:slug>/instructions/decide", pool_views.review_decide, name="console-review-decide"),
    path("<slug:slug>/seeds/bulk", curation_views.bulk, {"kind": "seed"}, name="console-seeds-bulk"),
    path("<slug:slug>/seeds/<int:item_id>/", curation_views.item_page, {"kind": "seed"}, name="console-seed"),
    path(
        "<slug:slug>/seeds/<int:item_id>/delete",
        curation_views.item_delete,
        {"kind": "seed"},
        name="console-seed-delete",
    ),
    path(
        "<slug:slug>/instructions/bulk", curation_views.bulk, {"kind": "instruction"}, name="console-instructions-bulk"
    ),
    path(
        "<slug:slug>/instructions/<int:item_id>/",
        curation_views.item_page,
        {"kind": "instruction"},
        name="console-instruction",
    ),
    path(
        "<slug:slug>/instructions/<int:item_id>/delete",
        curation_views.item_delete,
        {"kind": "instruction"},
        name="console-instruction-delete",
    ),
    path("<slug:slug>/difficulty/", difficulty_views.difficulty, name="console-difficulty"),
    path("<slug:slug>/difficulty/live", difficulty_views.difficulty_live, name="console-difficulty-live"),
    path("<slug:slug>/difficulty/rate", rating_views.rating, name="console-rating"),
    path("<slug:slug>/diversity/", diversity_views.diversity, name="console-diversity"),
    path("<slug:slug>/taxonomy/", taxonomy_views.taxonomy, name="console-taxonomy"),
    path(
        "<slug:slug>/difficulty/ratings/<int:run_id>/cancel",
        rating_views.rating_cancel,
        name="console-rating-cancel",
    ),
    path(
        "<slug:slug>/difficulty/<int:run_id>/cancel",
        difficulty_views.difficulty_cancel,
        name="console-difficulty-cancel",
    ),
]

urlpatterns += [
    path("<slug:slug>/members/", settings_views.members, name="console-members"),
    path("<slug:slug>/members/<int:user_id>/<str:action>", settings_views.member_action, name="console-member-action"),
    path("<slug:slug>/token", settings_views.my_token, name="console-my-token"),
    path("<slug:slug>/endpoints/", settings_views.endpoints, name="console-endpoints"),
    path("<slug:slug>/endpoints/<slug:name>/", settings_views.endpoint_edit, name="console-endpoint"),
    path("<slug:slug>/endpoints/<slug:name>/check", settings_views.endpoint_check, name="console-endpoint-check"),
    path("<slug:slug>/endpoints/<slug:name>/switch", settings_views.endpoint_switch, name="console-endpoint-switch"),
    path("<slug:slug>/endpoints/<slug:name>/delete", settings_views.endpoint_delete, name="console-endpoint-delete"),
]

urlpatterns += [
    path("<slug:slug>/ranking/settings", ranking_views.ranking_settings, name="console-ranking-settings"),
    path("<slug:slug>/quality/", quality_views.quality, name="console-quality"),
    path("<slug:slug>/quality/live", quality_views.quality_live, name="console-quality-live"),
    path("<slug:slug>/quality/check", quality_views.check_now, name="console-quality-check"),
    path("<slug:slug>/quality/labelers/<str:username>/reinstate", quality_views.reinstate, name="console-reinstate"),
    path("<slug:slug>/ranking/apply-overlap", ranking_views.apply_overlap, name="console-apply-overlap"),
    path("<slug:slug>/tasks/", ranking_views.task_jump, name="console-task-jump"),
    path("<slug:slug>/tasks/<int:task_id>/", ranking_views.task_page, name="console-task"),
    path("<slug:slug>/sampling/", ranking_views.sampling, name="console-sampling"),
    path("<slug:slug>/sampling/<int:run_id>/", ranking_views.sampling_run, name="console-sampling-run"),
    path("<slug:slug>/sampling/<int:run_id>/live", ranking_views.sampling_run_live, name="console-sampling-run-live"),
    path(
        "<slug:slug>/sampling/<int:run_id>/<str:action>",
        ranking_views.sampling_run_action,
        name="console-sampling-run-action",
    ),
]

urlpatterns += [
    path("<slug:slug>/models/", model_views.models, name="console-models"),
    path("<slug:slug>/models/live", model_views.models_live, name="console-models-live"),
    path("<slug:slug>/models/<int:job_id>/serve", model_views.serve, name="console-serve"),
    path("<slug:slug>/models/<int:job_id>/serving", model_views.serving_cell, name="console-serving-cell"),
    path("<slug:slug>/models/<int:job_id>/serving/start", model_views.serving_start, name="console-serving-start"),
    path("<slug:slug>/serving/<int:run_id>/stop", model_views.serving_stop, name="console-serving-stop"),
    path("<slug:slug>/playground", playground_views.playground, name="console-playground"),
    path("<slug:slug>/models/<int:job_id>/score", model_views.score, name="console-score"),
    path("<slug:slug>/models/<int:job_id>/win-rate", model_views.win_rate, name="console-win-rate"),
    path("<slug:slug>/evaluations/new", model_views.evaluate, name="console-evaluate"),
    path("<slug:slug>/evaluations/<int:run_id>/", model_views.evaluation, name="console-evaluation"),
    path("<slug:slug>/evaluations/<int:run_id>/live", model_views.evaluation_live, name="console-evaluation-live"),
    path("<slug:slug>/judge-runs/new", model_views.judge, name="console-judge"),
]

urlpatterns += [
    path("<slug:slug>/project", settings_views.project_settings, name="console-project"),
    path("<slug:slug>/tasks/<int:task_id>/<str:action>", ranking_views.task_action, name="console-task-action"),
    path("<slug:slug>/completions/import", ranking_views.import_completions, name="console-import-completions"),
    path("<slug:slug>/judge-runs/<int:run_id>/<str:action>", model_views.judge_action, name="console-judge-action"),
    path(
        "<slug:slug>/evaluations/<int:run_id>/resume", model_views.evaluation_resume, name="console-evaluation-resume"
    ),
    path("<slug:slug>/triggers/", model_views.triggers, name="console-triggers"),
    path(
        "<slug:slug>/triggers/<int:trigger_id>/<str:action>", model_views.trigger_action, name="console-trigger-action"
    ),
]
