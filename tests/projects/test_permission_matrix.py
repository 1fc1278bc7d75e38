"""Every URL × every role (healthchecks-style): allowed roles succeed, everyone else is refused without learning
whether another project's object exists (404), anonymous callers get 401 (API) or the sign-in page (UI).

Roles: the site admin (staff), a project admin of alpha who is NOT staff, alpha's labeler, consumer and reviewer, and
beta's admin, labeler and consumer (who must see nothing of alpha). Cross-project rows: beta's served model, a
switched-off endpoint and a job folder as base_model are refused to alpha's own admins too."""

from __future__ import annotations

import json

import pytest
from django.urls import NoReverseMatch, URLPattern, URLResolver, get_resolver, resolve, reverse

from projects.endpoints import ProjectEndpoint
from tests.annotation.conftest import labelers, make_tasks  # noqa: F401 - shared fixtures
from tests.training.conftest import sft_version, tiny_base  # noqa: F401 - shared fixtures

ROLES = (
    "admin",
    "project_admin",
    "labeler",
    "consumer",
    "reviewer",
    "other_admin",
    "other_labeler",
    "other_consumer",
    "anonymous",
)


@pytest.fixture
def world(project, other_project, cast, make_tasks, sft_version, tiny_base, tmp_path):  # noqa: F811
    """One of each object in project alpha; beta has its own members but none of these."""
    from annotation.judging import start_judge_run
    from annotation.sampling import start_sampling_run
    from llm.services import create_endpoint
    from projects.invitations import invite_member
    from projects.models import Invitation
    from projects.services import create_user
    from selfinstruct.batches import start_batch
    from selfinstruct.rating import start_rating_run
    from training.difficulty import start_difficulty_run
    from training.evaluations import start_evaluation
    from training.paths import job_dir, model_dir
    from training.services import create_training_job

    # alpha's reviewer (issue 37) joins the cast here: the shared cast stays as other tests know it
    reviewer, _, _ = create_user(username="rev", role="reviewer", password="a-long-test-password-1", project=project)
    cast["reviewer"] = reviewer
    endpoint = create_endpoint(name="matrix", base_url="http://127.0.0.1:9/v1", model="m")
    create_endpoint(name="beta-served", base_url="http://127.0.0.1:9/v1", model="beta-served", project=other_project)
    create_endpoint(name="alpha-own", base_url="http://127.0.0.1:9/v1", model="m", project=project)
    off = create_endpoint(name="off", base_url="http://127.0.0.1:9/v1", model="m")
    off.is_active = False
    off.save()
    batch = start_batch(project=project, endpoint=endpoint, template_name="alpaca", target=5)
    from selfinstruct.models import GeneratedInstruction, GenerationRequest, SeedTask

    seed = SeedTask.objects.create(project=project, instruction="Name a river.", instruction_key="m1", language="en")
    request = GenerationRequest.objects.create(batch=batch, lane=0, step=999, prompt="x")
    instruction = GeneratedInstruction.objects.create(
        project=project,
        batch=batch,
        request=request,
        instruction="Name a sea.",
        instruction_key="m2",
        language="en",
        status="accepted",
    )
    (task,) = make_tasks(1)
    job = create_training_job(project=project, dataset_version=sft_version, kind="sft", base_model=str(tiny_base))
    run = start_sampling_run(project=project, endpoints=[(endpoint, {})], per_prompt=2, sources=("seed",))

    judge = start_judge_run(project=project, endpoint=endpoint)
    evaluation = start_evaluation(
        project=project,
        model_endpoint=endpoint,
        judge_endpoint=endpoint,
        items=[{"question": "q", "reference": "r"}],
        prompt_set="matrix",
    )
    difficulty = start_difficulty_run(project=project, base_model=str(tiny_base))
    from training.models import ServingRun

    serving = ServingRun.objects.create(project=project, job=job)
    rating = start_rating_run(project=project, endpoint=endpoint)
    # beta's labeler is invited to alpha (pending): only they may see and answer the invitation
    link = invite_member(project=project, username="lab2", role="labeler", invited_by=cast["project_admin"])
    folder = job_dir(job)
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "train.log").write_text("step 1\n")
    return {
        "batch": batch.pk,
        "seed": seed.pk,
        "instruction": instruction.pk,
        "task": task.pk,
        "version": sft_version.pk,
        "job": job.pk,
        "run": run.pk,
        "completions": sorted(task.completion_ids),
        "base": str(tiny_base),
        "judge": judge.pk,
        "evaluation": evaluation.pk,
        "difficulty": difficulty.pk,
        "serving": serving.pk,
        "rating": rating.pk,
        "jobpath": str(model_dir(job)),
        "member": cast["labeler"].pk,
        "link": link,
        "invitation": Invitation.objects.get(user=cast["other_labeler"]).pk,
    }


ADMIN_ONLY = {"admin", "project_admin"}
MEMBERS = {"admin", "project_admin", "labeler", "consumer", "reviewer"}
LABELING = {"admin", "project_admin", "labeler"}
DATA = {"admin", "project_admin", "consumer"}  # export and training roles
EVERYONE = MEMBERS | {"other_admin", "other_labeler", "other_consumer"}
PROMPTS = [{"question": "q", "reference": "r"}]
CURATORS = {"admin": 200, "project_admin": 200, "labeler": 403, "consumer": 403, "reviewer": 403}
REVIEWING = {"admin", "project_admin", "reviewer"}  # the review stage: reviewers and admins (issue 37)
DECIDED_FIRST = {"admin": 200, "project_admin": 409, "reviewer": 409}  # one decision per review version
ENDPOINT_READERS = {"admin", "project_admin", "other_admin"}  # a site-wide endpoint: any project's admin reads it
SITE_ADMIN_CHANGES = {"admin": 200, "project_admin": 403, "other_admin": 403}

A = "/api/v1/projects/alpha"  # every project-owned resource answers under its project (projects/endpoints.py)

# (method, URL, allowed roles, status for allowed roles: one code, or {role: code}). Everyone else signed in gets
# 404; anonymous API callers get 401. Writes list the refused roles first: the allowed call may change state.
# Project-owned resources are called at their project-scoped routes; their deprecated flat twins are checked by
# test_flat_routes_answer_as_their_project_scoped_twins (and test_lists_never_show_another_projects_objects).
API = [
    ("GET", "/api/v1/me", EVERYONE, 200),
    ("GET", "/api/v1/projects", EVERYONE, 200),
    ("GET", A, MEMBERS, 200),
    ("POST", A + "/seeds", ADMIN_ONLY, 400),  # no file: refused with a reason, for the admin
    # Curation: a project's members find its items, only its admins curate them (403); the admin deletes first.
    ("GET", A + "/seeds/{seed}", MEMBERS, CURATORS),
    ("PATCH", A + "/seeds/{seed}", MEMBERS, CURATORS, {"language": "zh"}),
    ("POST", A + "/seeds/bulk", MEMBERS, CURATORS, {"action": "set_language", "value": "en"}),
    ("GET", A + "/instructions/{instruction}", MEMBERS, CURATORS),
    ("PATCH", A + "/instructions/{instruction}", MEMBERS, CURATORS, {"task_type": "code"}),
    ("POST", A + "/instructions/bulk", MEMBERS, CURATORS, {"action": "reject", "dry_run": True}),
    ("DELETE", A + "/seeds/{seed}", MEMBERS, {**CURATORS, "admin": 204, "project_admin": 404}),
    ("DELETE", A + "/instructions/{instruction}", MEMBERS, {**CURATORS, "admin": 204, "project_admin": 404}),
    ("GET", A + "/generation-batches", ADMIN_ONLY, 200),
    ("POST", A + "/generation-batches", ADMIN_ONLY, 201, {"endpoint": "matrix", "target": 3}),
    ("GET", A + "/generation-batches/{batch}", ADMIN_ONLY, 200),
    ("POST", A + "/generation-batches/{batch}/pause", ADMIN_ONLY, {"admin": 200, "project_admin": 409}),
    ("POST", A + "/generation-batches/{batch}/resume", ADMIN_ONLY, {"admin": 200, "project_admin": 409}),
    ("POST", A + "/generation-batches/{batch}/cancel", ADMIN_ONLY, {"admin": 200, "project_admin": 409}),
    # A claim is a POST; a GET claims only for API tokens (deprecated), and these callers are signed in otherwise.
    ("GET", A + "/annotation/next", LABELING, 405),
    ("POST", A + "/annotation/next", LABELING, {"admin": 200, "project_admin": 204, "labeler": 204}),
    ("POST", A + "/annotation/undo", LABELING, 409),  # nothing to undo yet
    ("GET", A + "/annotation/rankings", DATA, 200),
    ("GET", A + "/annotation/stats", ADMIN_ONLY, 200),
    ("GET", A + "/annotation/settings", ADMIN_ONLY, 200),  # ranking settings: aspects, strength, rationale, …
    ("PATCH", A + "/annotation/settings", ADMIN_ONLY, 200, {"ask_strength": False}),
    ("GET", A + "/annotation/agreement", DATA | {"reviewer"}, 200),  # α and reliability (issue 37)
    ("GET", A + "/annotation/labelers", ADMIN_ONLY, 200),  # standings and reliability (guardrails, issue 37)
    ("POST", A + "/annotation/labelers/lab/reinstate", ADMIN_ONLY, 409),  # lab is not paused
    # The admin ranks first (a free slot takes a late submission), which fills the task for the labeler.
    (
        "POST",
        A + "/annotation/tasks/{task}/ranking",
        LABELING,
        {"admin": 201, "project_admin": 409, "labeler": 409},
        {"ranking": "{completions}"},
    ),
    ("POST", A + "/annotation/tasks/{task}/heartbeat", LABELING, 409),  # no lease held
    # Review (after the admin's ranking above made a consensus): the site admin decides first, the others decided on
    # the same version and get a conflict; changing the policy is for admins (a reviewer: 403).
    ("GET", A + "/review/queue", REVIEWING, 200),
    ("GET", A + "/review/next", REVIEWING, 204),  # policy none: nothing waits
    ("GET", A + "/review/policy", REVIEWING, 200),
    (
        "PATCH",
        A + "/review/policy",
        REVIEWING,
        {"admin": 200, "project_admin": 200, "reviewer": 403},
        {"review_sample_rate": 0.5},
    ),
    ("GET", A + "/review/tasks/{task}", REVIEWING, 200),
    ("POST", A + "/review/tasks/{task}/accept", REVIEWING, DECIDED_FIRST, {"version": 0}),
    ("POST", A + "/review/tasks/{task}/reject", REVIEWING, 400, {"version": 1, "ranking": 999999, "reason": "r"}),
    ("POST", A + "/review/tasks/{task}/adjudicate", REVIEWING, DECIDED_FIRST, {"version": 1, "order": "{completions}"}),
    ("POST", A + "/annotation/tasks/{task}/skip", LABELING, 409),
    ("GET", A + "/datasets", DATA, 200),
    ("POST", A + "/datasets", DATA, 201, {"kind": "sft"}),
    ("GET", A + "/datasets/{version}", DATA, 200),
    ("GET", A + "/datasets/{version}/download?format=alpaca", DATA, 200),
    ("GET", A + "/training-jobs", DATA, 200),
    # Training spends the project's GPU: admins start it; consumers read jobs, metrics and models (403).
    (
        "POST",
        A + "/training-jobs",
        DATA,
        {"admin": 201, "project_admin": 201, "consumer": 403},
        {"dataset": "{version}", "kind": "sft", "base_model": "{base}"},
    ),
    ("GET", A + "/training-jobs/{job}", DATA, 200),
    ("GET", A + "/training-jobs/{job}/metrics", DATA, 200),
    ("GET", A + "/training/compare?jobs={job}", DATA, 200),
    ("GET", A + "/training-jobs/{job}/artifacts/train.log", DATA, 200),
    # A consumer reads; only admins act: stopping a job is theirs (403).
    ("POST", A + "/training-jobs/{job}/cancel", DATA, {"admin": 200, "project_admin": 409, "consumer": 403}),
    ("GET", A + "/sampling-runs", ADMIN_ONLY, 200),
    ("POST", A + "/sampling-runs", ADMIN_ONLY, 201, {"endpoints": [{"name": "matrix"}], "sources": ["seed"]}),
    ("GET", A + "/sampling-runs/{run}", ADMIN_ONLY, 200),
    ("GET", A + "/training-jobs/{job}/scoring", DATA, 200),
    # An SFT job cannot score (the admin learns why); scoring changes what labelers see: consumers are refused.
    ("POST", A + "/training-jobs/{job}/scoring", DATA, {"admin": 400, "project_admin": 400, "consumer": 403}),
    ("GET", A + "/annotation/judge-runs", ADMIN_ONLY, 200),
    ("POST", A + "/annotation/judge-runs", ADMIN_ONLY, 201, {"endpoint": "matrix"}),
    ("GET", A + "/annotation/judge-runs/{judge}", ADMIN_ONLY, 200),
    ("GET", A + "/evaluations", DATA, 200),
    # An evaluation spends the project's LLM budget: project admins start it, consumers read it (403).
    (
        "POST",
        A + "/evaluations",
        DATA,
        {"admin": 201, "project_admin": 201, "consumer": 403},
        {"model_endpoint": "matrix", "judge_endpoint": "matrix", "prompts": PROMPTS},
    ),
    ("GET", A + "/evaluations/{evaluation}", DATA, 200),
    ("GET", A + "/difficulty-runs", DATA, 200),
    # The world's run holds the scorer (one run at a time); starting is for project admins, not consumers.
    (
        "POST",
        A + "/difficulty-runs",
        DATA,
        {"admin": 409, "project_admin": 409, "consumer": 403},
        {"base_model": "{base}"},
    ),
    ("GET", A + "/difficulty-runs/{difficulty}", DATA, 200),
    ("GET", A + "/difficulty", DATA, 200),
    ("POST", A + "/difficulty-runs/{difficulty}/cancel", DATA, {"admin": 200, "project_admin": 409, "consumer": 403}),
    ("GET", A + "/rating-runs", DATA, 200),
    ("POST", A + "/rating-runs", DATA, {"admin": 409, "project_admin": 409, "consumer": 403}, {"endpoint": "matrix"}),
    ("GET", A + "/rating-runs/{rating}", DATA, 200),
    ("GET", A + "/diversity", DATA, 200),
    ("GET", A + "/taxonomy", DATA, 200),
    ("PUT", A + "/taxonomy", DATA, {"admin": 400, "project_admin": 400, "consumer": 403}, {"types": []}),
    ("DELETE", A + "/taxonomy", DATA, {"admin": 200, "project_admin": 200, "consumer": 403}),
    ("POST", A + "/rating-runs/{rating}/cancel", DATA, {"admin": 200, "project_admin": 409, "consumer": 403}),
    # LLM endpoints: any project's admin reads the site-wide ones, only site admins change them (issue 35). The
    # site-level routes manage every endpoint the caller administers (not deprecated); a project's are under it.
    ("GET", "/api/v1/endpoints", EVERYONE, 200),
    ("GET", "/api/v1/endpoints/matrix", ENDPOINT_READERS, 200),
    ("PATCH", "/api/v1/endpoints/matrix", ENDPOINT_READERS, SITE_ADMIN_CHANGES, {"max_retries": 2}),
    ("DELETE", "/api/v1/endpoints/matrix", ENDPOINT_READERS, {**SITE_ADMIN_CHANGES, "admin": 409}),  # runs use it
    (
        "POST",
        "/api/v1/endpoints",
        ADMIN_ONLY,
        {"admin": 201, "project_admin": 400},  # the second: a taken name
        {"project": "alpha", "name": "matrix-new", "base_url": "http://127.0.0.1:9/v1", "model": "m"},
    ),
    ("GET", A + "/endpoints", ADMIN_ONLY, 200),
    ("GET", A + "/endpoints/alpha-own", ADMIN_ONLY, 200),
    ("PATCH", A + "/endpoints/alpha-own", ADMIN_ONLY, 200, {"max_retries": 2}),
    ("PATCH", A + "/endpoints/matrix", ADMIN_ONLY, {"admin": 200, "project_admin": 403}, {"max_retries": 2}),
    (
        "POST",
        A + "/endpoints",
        ADMIN_ONLY,
        {"admin": 201, "project_admin": 400},  # the second: a taken name
        {"name": "matrix-own", "base_url": "http://127.0.0.1:9/v1", "model": "m"},
    ),
    ("DELETE", A + "/endpoints/alpha-own", ADMIN_ONLY, {"admin": 204, "project_admin": 404}),  # gone
    # Cross-project and switched-off endpoints, job folders as base models: refused to alpha's own admins too (400,
    # the same answer as for an endpoint or a folder that does not exist).
    ("POST", A + "/sampling-runs", ADMIN_ONLY, 400, {"endpoints": [{"name": "beta-served"}], "sources": ["seed"]}),
    ("POST", A + "/sampling-runs", ADMIN_ONLY, 400, {"endpoints": [{"name": "off"}], "sources": ["seed"]}),
    ("POST", A + "/annotation/judge-runs", ADMIN_ONLY, 400, {"endpoint": "beta-served"}),
    ("POST", A + "/annotation/judge-runs", ADMIN_ONLY, 400, {"endpoint": "off"}),
    ("POST", A + "/generation-batches", ADMIN_ONLY, 400, {"endpoint": "beta-served", "target": 3}),
    ("POST", A + "/generation-batches", ADMIN_ONLY, 400, {"endpoint": "off", "target": 3}),
    (
        "POST",
        A + "/evaluations",
        DATA,
        {"admin": 400, "project_admin": 400, "consumer": 403},
        {"model_endpoint": "beta-served", "judge_endpoint": "matrix", "prompts": PROMPTS},
    ),
    (
        "POST",
        A + "/evaluations",
        DATA,
        {"admin": 400, "project_admin": 400, "consumer": 403},
        {"model_endpoint": "matrix", "judge_endpoint": "off", "prompts": PROMPTS},
    ),
    (
        "POST",
        A + "/training-jobs",
        DATA,
        {"admin": 400, "project_admin": 400, "consumer": 403},
        {"dataset": "{version}", "kind": "sft", "base_model": "{jobpath}"},
    ),
    (  # job not finished (409); a win-rate is an evaluation: not for consumers
        "POST",
        A + "/training-jobs/{job}/win-rate",
        DATA,
        {"admin": 409, "project_admin": 409, "consumer": 403},
        {"judge_endpoint": "matrix"},
    ),
    # Serving a model holds a GPU: project admins start and stop it (the world's job has not succeeded: 409)
    ("GET", A + "/serving-runs", DATA, 200),
    ("GET", A + "/serving-runs/{serving}", DATA, 200),
    ("POST", A + "/training-jobs/{job}/serve", DATA, {"admin": 409, "project_admin": 409, "consumer": 403}),
    ("POST", A + "/serving-runs/{serving}/cancel", DATA, {"admin": 200, "project_admin": 409, "consumer": 403}),
    (  # the playground spends the project's LLM budget: admins (a bad parameter: 400 before any call)
        "POST",
        A + "/llm/playground",
        DATA,
        {"admin": 400, "project_admin": 400, "consumer": 403},
        {"endpoint": "matrix", "messages": [{"role": "user", "content": "hi"}], "params": {"top_p": 2}},
    ),
    ("POST", "/api/v1/me/token", EVERYONE, 201),  # last: it replaces the consumers' tokens
]
# The deprecated flat lists, called without a project, span the caller's projects: they answer everyone signed in,
# but only with their own projects' objects: (URL, JSON key of the project).
LISTS = [
    ("/api/v1/generation-batches", "project"),
    ("/api/v1/datasets", "project"),
    ("/api/v1/training-jobs", "project"),
    ("/api/v1/sampling-runs", "project"),
    ("/api/v1/annotation/judge-runs", "project"),
    ("/api/v1/evaluations", "project"),
    ("/api/v1/difficulty-runs", "project"),
    ("/api/v1/rating-runs", "project"),
    ("/api/v1/serving-runs", "project"),
]
SEES_ALPHA_LISTS = {
    "/api/v1/generation-batches": ADMIN_ONLY,
    "/api/v1/datasets": DATA,
    "/api/v1/training-jobs": DATA,
    "/api/v1/sampling-runs": ADMIN_ONLY,
    "/api/v1/annotation/judge-runs": ADMIN_ONLY,
    "/api/v1/evaluations": DATA,
    "/api/v1/difficulty-runs": DATA,
    "/api/v1/rating-runs": DATA,
    "/api/v1/serving-runs": DATA,
}
# Pages (session sign-in): allowed roles get 200, other signed-in users 404, anonymous a redirect to sign in.
PAGES = [
    ("GET", "/", EVERYONE, 200),
    ("GET", "/label/", EVERYONE, 200),
    ("GET", "/label/alpha/", LABELING, 200),  # shows what is held, claims nothing
    ("POST", "/label/alpha/", LABELING, 303),  # Start: claims, then back to the page
    ("GET", "/label/alpha/dashboard/", ADMIN_ONLY, 200),
    ("GET", "/label/alpha/review/", REVIEWING, 200),
    ("GET", "/label/alpha/review/tasks/{task}/", REVIEWING, 200),
    # no decision: back to the task, with a message
    ("POST", "/label/alpha/review/tasks/{task}/decide", REVIEWING, 303),
    ("GET", "/console/alpha/", ADMIN_ONLY, 200),
    ("GET", "/console/alpha/running", ADMIN_ONLY, 200),
    ("GET", "/console/alpha/generation/new", ADMIN_ONLY, 200),
    ("GET", "/console/alpha/batches/{batch}/", ADMIN_ONLY, 200),
    ("GET", "/console/alpha/batches/{batch}/live", ADMIN_ONLY, 200),
    ("POST", "/console/alpha/batches/{batch}/pause", ADMIN_ONLY, 302),  # back to the batch page, with a message
    ("GET", "/console/alpha/datasets/", ADMIN_ONLY, 200),
    ("GET", "/console/alpha/datasets/{version}/", ADMIN_ONLY, 200),
    ("GET", "/console/alpha/datasets/{version}/live", ADMIN_ONLY, 200),
    ("GET", "/console/alpha/training/", ADMIN_ONLY, 200),
    ("GET", "/console/alpha/training/{job}/", ADMIN_ONLY, 200),
    ("GET", "/console/alpha/training/{job}/live", ADMIN_ONLY, 200),
    ("GET", "/console/alpha/training/compare?jobs={job}", ADMIN_ONLY, 200),
    ("POST", "/console/alpha/training/{job}/cancel", ADMIN_ONLY, 302),
    ("GET", "/console/alpha/seeds/", ADMIN_ONLY, 200),
    ("GET", "/console/alpha/instructions/", ADMIN_ONLY, 200),
    ("GET", "/console/alpha/seeds/{seed}/", ADMIN_ONLY, 200),
    ("GET", "/console/alpha/instructions/{instruction}/", ADMIN_ONLY, 200),
    ("GET", "/console/alpha/seeds/bulk", ADMIN_ONLY, 200),
    ("GET", "/console/alpha/instructions/bulk?status=accepted", ADMIN_ONLY, 200),
    ("POST", "/console/alpha/seeds/{seed}/delete", ADMIN_ONLY, {"admin": 302, "project_admin": 404}),
    ("POST", "/console/alpha/instructions/{instruction}/delete", ADMIN_ONLY, {"admin": 302, "project_admin": 404}),
    ("POST", "/console/alpha/instructions/decide", ADMIN_ONLY, 302),  # nothing ticked: back, with a message
    ("GET", "/console/alpha/members/", ADMIN_ONLY, 200),
    ("POST", "/console/alpha/members/{member}/role", ADMIN_ONLY, 302),  # no role given: refused, with a message
    ("POST", "/console/alpha/token", ADMIN_ONLY, 200),  # a new token for the admin, shown once
    ("GET", "/console/alpha/endpoints/", ADMIN_ONLY, 200),
    ("GET", "/console/alpha/endpoints/alpha-own/", ADMIN_ONLY, 200),
    ("POST", "/console/alpha/endpoints/alpha-own/check", ADMIN_ONLY, 302),
    ("GET", "/console/alpha/endpoints/alpha-own/switch", ADMIN_ONLY, 200),  # the confirmation
    ("GET", "/console/alpha/endpoints/alpha-own/delete", ADMIN_ONLY, 200),  # the confirmation
    ("POST", "/console/alpha/endpoints/matrix/switch", {"admin"}, 302),  # site-wide: site admins only
    ("POST", "/console/alpha/endpoints/alpha-own/delete", ADMIN_ONLY, {"admin": 302, "project_admin": 404}),
    ("GET", "/console/alpha/ranking/settings", ADMIN_ONLY, 200),
    ("GET", "/console/alpha/quality/", ADMIN_ONLY, 200),
    ("GET", "/console/alpha/quality/live", ADMIN_ONLY, 200),
    ("POST", "/console/alpha/quality/check", ADMIN_ONLY, 302),  # judges every labeler now, back with a message
    ("POST", "/console/alpha/quality/labelers/lab/reinstate", ADMIN_ONLY, 302),  # not paused: back, with a message
    ("POST", "/console/alpha/ranking/apply-overlap", ADMIN_ONLY, 302),
    ("GET", "/console/alpha/models/", ADMIN_ONLY, 200),
    ("GET", "/console/alpha/models/live", ADMIN_ONLY, 200),
    ("POST", "/console/alpha/models/{job}/serve", ADMIN_ONLY, 302),  # no URL given: refused, with a message
    ("POST", "/console/alpha/models/{job}/score", ADMIN_ONLY, 302),
    ("POST", "/console/alpha/models/{job}/serving/start", ADMIN_ONLY, 302),  # not succeeded: back, with a message
    ("GET", "/console/alpha/models/{job}/serving", ADMIN_ONLY, 404),  # only trained models have a serving cell
    ("POST", "/console/alpha/serving/{serving}/stop", ADMIN_ONLY, 302),
    ("GET", "/console/alpha/playground", ADMIN_ONLY, 200),
    (
        "POST",
        "/console/alpha/models/{job}/win-rate",
        ADMIN_ONLY,
        302,
    ),  # no judge given: back, with a message  # not a reward model: refused, with a message
    ("GET", "/console/alpha/evaluations/new", ADMIN_ONLY, 200),
    ("GET", "/console/alpha/difficulty/", ADMIN_ONLY, 200),
    ("GET", "/console/alpha/difficulty/live", ADMIN_ONLY, 200),
    ("POST", "/console/alpha/difficulty/{difficulty}/cancel", ADMIN_ONLY, 302),
    ("POST", "/console/alpha/difficulty/rate", ADMIN_ONLY, 400),
    ("GET", "/console/alpha/diversity/", ADMIN_ONLY, 200),  # no endpoint chosen: the form says so
    ("GET", "/console/alpha/taxonomy/", ADMIN_ONLY, 200),
    ("POST", "/console/alpha/taxonomy/", ADMIN_ONLY, 400),  # no lines given: the form says so
    ("POST", "/console/alpha/difficulty/ratings/{rating}/cancel", ADMIN_ONLY, 302),
    ("GET", "/console/alpha/evaluations/{evaluation}/", ADMIN_ONLY, 200),
    ("GET", "/console/alpha/evaluations/{evaluation}/live", ADMIN_ONLY, 200),
    ("GET", "/console/alpha/judge-runs/new", ADMIN_ONLY, 200),
    ("GET", "/console/alpha/project", ADMIN_ONLY, 200),
    ("POST", "/console/alpha/tasks/{task}/more", ADMIN_ONLY, 302),
    ("POST", "/console/alpha/completions/import", ADMIN_ONLY, 302),  # no file: back, with a message
    ("POST", "/console/alpha/judge-runs/{judge}/cancel", ADMIN_ONLY, 302),
    ("POST", "/console/alpha/evaluations/{evaluation}/resume", ADMIN_ONLY, 302),
    ("POST", "/console/alpha/triggers/", ADMIN_ONLY, 302),  # nothing given: back, with the fields named
    ("POST", "/console/alpha/triggers/999/disable", ADMIN_ONLY, 302),
    ("GET", "/console/alpha/sampling/", ADMIN_ONLY, 200),
    ("GET", "/console/alpha/tasks/{task}/", ADMIN_ONLY, 200),
    ("GET", "/console/alpha/tasks/?task={task}", ADMIN_ONLY, 302),
    ("GET", "/console/alpha/sampling/{run}/", ADMIN_ONLY, 200),
    ("GET", "/console/alpha/sampling/{run}/live", ADMIN_ONLY, 200),
    ("POST", "/console/alpha/sampling/{run}/cancel", ADMIN_ONLY, 302),
    ("POST", "/label/alpha/tasks/{task}/submit", LABELING, 303),  # claims the next task, shows it, with a message
    ("POST", "/label/alpha/tasks/{task}/skip", LABELING, 303),
    ("POST", "/label/alpha/undo", LABELING, 303),
    # An invitation is its invitee's alone: anyone else (its project's admins too) gets 404 for the link or the id.
    ("GET", "/invitations/join/{link}", {"other_labeler"}, 200),
    ("POST", "/invitations/{invitation}/decline", {"other_labeler"}, 302),  # back home, with a message
    # Last: members leave (the world's alpha loses them). A site admin who is no member has nothing to leave (404).
    ("POST", "/projects/alpha/leave", {"project_admin", "labeler", "consumer", "reviewer"}, 302),
]
PUBLIC = ["/api/v1/health", "/api/schema/", "/api/docs/", "/accounts/login/"]


def _client(cast, who, *, session):
    from rest_framework.test import APIClient

    from tests.helpers.openapi import SchemaCheckedClient

    client = (APIClient if session else SchemaCheckedClient)()
    client.raise_request_exception = False
    if who == "anonymous":
        return client
    if session:
        client.force_login(cast[who])
    elif who.endswith("consumer"):
        client.credentials(HTTP_AUTHORIZATION=f"Token {cast[who].auth_token.key}")
    else:
        client.force_authenticate(cast[who])
    return client


def _fill(body, world):
    """{name} placeholders in a body, replaced by the world's objects (keeping their types)."""
    if isinstance(body, dict):
        return {key: _fill(value, world) for key, value in body.items()}
    if isinstance(body, list):
        return [_fill(value, world) for value in body]
    if isinstance(body, str) and body.startswith("{") and body.endswith("}"):
        return world[body[1:-1]]
    return body


def _expected(role, allowed, status, *, api):
    if role == "anonymous":
        return 401 if api else 302
    if role not in allowed:
        return 404
    return status[role] if isinstance(status, dict) else status


def _order(allowed):
    return sorted(ROLES, key=lambda role: role in allowed)  # refused roles first, allowed ones last


def _run(cast, world, rows, *, session):
    cells, wrong = 0, []
    for method, template, allowed, status, *body in rows:
        url = template.format(**world)
        data = _fill(body[0], world) if body else None
        for role in _order(allowed):
            client = _client(cast, role, session=session)
            response = (
                client.generic(method, url, json.dumps(data), "application/json")
                if body
                else client.generic(method, url)
            )
            cells += 1
            expected = _expected(role, allowed, status, api=not session)
            if response.status_code != expected:
                wrong.append(f"{method} {url} as {role}: {response.status_code}, expected {expected}")
            if role == "anonymous" and session:
                assert "/accounts/login/" in response["Location"]
    return cells, wrong


def test_every_api_endpoint_for_every_role(cast, world):
    cells, wrong = _run(cast, world, API, session=False)
    assert not wrong, "\n".join(wrong)
    assert cells == len(API) * len(ROLES)


def _flat_twin(url: str) -> tuple[str, bool] | None:
    """(path, whether it names the project in the query or body) of the deprecated flat route answering as the
    project-scoped `url`; None where there is none (seeds, taxonomy… were project routes from the start; the
    site-level endpoint routes are no twins but routes of their own)."""
    path = url.split("?")[0]
    match = resolve(path)
    view = getattr(match.func, "view_class", None)
    if not (match.url_name or "").startswith("project-") or view is None or not issubclass(view, ProjectEndpoint):
        return None
    kwargs = {key: value for key, value in match.kwargs.items() if key != "slug"}
    try:
        flat = reverse(match.url_name.removeprefix("project-"), kwargs=kwargs)
    except NoReverseMatch:
        return None
    if getattr(resolve(flat).func, "view_class", None) is not view:
        return None
    return flat, view.flat_object is None and "task_id" not in kwargs


def _twin_role(method, allowed, status) -> str:
    """Who calls both forms without changing anything: a reader for reads; for writes a member refused with 403 if
    the row has one, else an outsider (404)."""
    if method == "GET":
        return next(role for role in ("project_admin", "labeler", "consumer", "admin") if role in allowed)
    refused = [role for role in allowed if isinstance(status, dict) and status.get(role) == 403]
    return refused[0] if refused else "other_admin"


def test_flat_routes_answer_as_their_project_scoped_twins(cast, world):
    """Each deprecated flat route answers one caller with the status its project-scoped twin gives, and says it is
    deprecated (Deprecation header); the scoped route does not. One call per route, not a second matrix."""
    wrong, seen = [], set()
    for method, template, allowed, status, *body in API:
        url = template.format(**world)
        twin = _flat_twin(url)
        if twin is None or (method, twin[0]) in seen:
            continue
        seen.add((method, twin[0]))
        flat, names_project = twin
        query = url.partition("?")[2]
        data = _fill(body[0], world) if body else None
        flat_data = data
        if names_project:
            query = "&".join(part for part in (query, "project=alpha") if part)
            if method != "GET":
                flat_data = {**(data or {}), "project": "alpha"}
        flat_url = f"{flat}?{query}" if query else flat
        client = _client(cast, _twin_role(method, allowed, status), session=False)
        scoped = (
            client.generic(method, url, json.dumps(data), "application/json") if data else client.generic(method, url)
        )
        old = (
            client.generic(method, flat_url, json.dumps(flat_data), "application/json")
            if flat_data
            else client.generic(method, flat_url)
        )
        if old.status_code != scoped.status_code or "Deprecation" not in old or "Deprecation" in scoped:
            wrong.append(
                f"{method} {flat_url}: {old.status_code} (Deprecation: {old.get('Deprecation')}), "
                f"scoped {scoped.status_code}"
            )
    assert not wrong, "\n".join(wrong)
    assert len(seen) > 40


@pytest.mark.long(20)
def test_every_page_for_every_role(cast, world):
    cells, wrong = _run(cast, world, PAGES, session=True)
    assert not wrong, "\n".join(wrong)


def test_lists_never_show_another_projects_objects(cast, world):
    for url, _ in LISTS:
        for role in ROLES[:-1]:
            body = _client(cast, role, session=False).get(url).json()
            rows = body["results"] if isinstance(body, dict) else body
            sees = role in SEES_ALPHA_LISTS[url]
            assert bool(rows) == sees, f"{url} as {role}: {len(rows)} rows"


def test_the_admin_site_is_for_staff_only(cast, world):
    for role in ROLES:
        response = _client(cast, role, session=True).get("/admin/")
        assert response.status_code == (200 if role == "admin" else 302), role


def test_public_urls_answer_anonymous_callers(client, db):
    for url in PUBLIC:
        assert client.get(url).status_code == 200, url


def test_the_matrix_covers_every_url():
    """A new URL without a row here fails this test."""
    covered = {
        resolve(
            row[1]
            .split("?")[0]
            .format(
                batch=1,
                seed=1,
                instruction=1,
                task=1,
                version=1,
                job=1,
                run=1,
                judge=1,
                evaluation=1,
                member=1,
                difficulty=1,
                rating=1,
                serving=1,
                link="x",
                invitation=1,
            )
        ).url_name
        for row in API + PAGES
    }
    # the deprecated flat routes are called by test_flat_routes_answer_as_their_project_scoped_twins
    covered |= {name.removeprefix("project-") for name in covered if name.startswith("project-")}
    covered |= {resolve(url).url_name for url in PUBLIC} | {"admin-login", "logout", "set_language"}

    def names(resolver, prefix=""):
        for entry in resolver.url_patterns:
            if isinstance(entry, URLResolver):
                if entry.app_name == "admin":
                    continue  # Django's admin: staff-only as a whole (test above)
                yield from names(entry, prefix)
            elif isinstance(entry, URLPattern) and entry.name:
                yield entry.name

    missing = sorted(set(names(get_resolver())) - covered)
    assert not missing, f"URLs without a permission-matrix row: {missing}"


def test_a_consumer_reads_training_jobs_but_neither_starts_nor_stops_them(
    cast,
    project,
    sft_version,  # noqa: F811
    tiny_base,  # noqa: F811
):
    """Training spends the project's GPU: its admins start and stop jobs; a consumer reads jobs, their metrics and
    models. A project admin who is not staff stops anyone's job."""
    from training.services import create_training_job

    def job(by):
        return create_training_job(
            project=project, dataset_version=sft_version, kind="sft", base_model=str(tiny_base), created_by=by
        )

    admins, other = job(cast["project_admin"]), job(cast["admin"])
    consumer = _client(cast, "consumer", session=False)
    assert consumer.get(f"{A}/training-jobs/{admins.pk}").status_code == 200  # reading is fine
    assert consumer.get(f"{A}/training-jobs/{admins.pk}/metrics").status_code == 200
    started = consumer.post(
        A + "/training-jobs", {"dataset": sft_version.pk, "kind": "sft", "base_model": str(tiny_base)}, format="json"
    )
    assert started.status_code == 403 and "admin" in started.json()["detail"]
    assert consumer.post(f"{A}/training-jobs/{admins.pk}/cancel").status_code == 403
    project_admin = _client(cast, "project_admin", session=False)
    assert not cast["project_admin"].is_staff
    assert project_admin.post(f"{A}/training-jobs/{other.pk}/cancel").json() == {"status": "cancelled"}
    admins.refresh_from_db()
    assert admins.status == "queued"
    assert project.training_jobs.count() == 2  # the consumer's request queued nothing
