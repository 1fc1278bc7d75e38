"""On PostgreSQL the labelers' claim and submit go through one statement each (annotation/fastpath.py); they must
leave the database and answer the API exactly as the ORM path does. Two labelers rank the same tasks, one through
each path, and every counter, row and payload is compared."""

import pytest

pytestmark = [pytest.mark.services, pytest.mark.django_db(transaction=True)]


def _rank(client, project_slug):
    """Claim, then rank the task in its shown order; the claim payload and the submit answer."""
    shown = client.post(f"/api/v1/annotation/next?project={project_slug}")
    assert shown.status_code == 200, shown.content
    task = shown.json()
    ids = [c["id"] for c in task["completions"]]
    stored = client.post(f"/api/v1/annotation/tasks/{task['task']}/ranking", {"ranking": ids[::-1]}, format="json")
    assert stored.status_code == 201, stored.content
    return task, stored.json()


def test_the_fast_path_and_the_orm_path_agree(project, make_tasks, labelers, monkeypatch):
    from rest_framework.test import APIClient

    from annotation import fastpath
    from annotation.models import Assignment, Consensus, Ranking, RankingTask

    tasks = make_tasks(3, overlap=2)
    fast_user, orm_user = labelers(2)
    fast, orm = APIClient(), APIClient()
    fast.force_authenticate(fast_user)
    orm.force_authenticate(orm_user)
    orm_turn, taken = {"on": False}, []
    real_usable, real_claim, real_submit = fastpath.usable, fastpath.claim, fastpath.submit
    monkeypatch.setattr(fastpath, "usable", lambda config: not orm_turn["on"] and real_usable(config))

    def counted(name, real):
        def call(**kw):
            result = real(**kw)
            taken.append(name if result is not None else f"{name} fell back")
            return result

        return call

    monkeypatch.setattr(fastpath, "claim", counted("claim", real_claim))
    fast_submit = counted("submit", real_submit)
    monkeypatch.setattr(fastpath, "submit", lambda **kw: None if orm_turn["on"] else fast_submit(**kw))
    for _ in range(3):
        orm_turn["on"] = False
        fast_task, fast_row = _rank(fast, project.slug)
        orm_turn["on"] = True
        orm_task, orm_row = _rank(orm, project.slug)
        assert fast_task["task"] == orm_task["task"]  # breadth-first: both on the same task
        assert set(fast_task) == set(orm_task) and fast_task["completions"] == orm_task["completions"]
        assert fast_task["prompt"] == orm_task["prompt"] and fast_task["progress"]["remaining"] >= 1
        own = ("id", "labeler", "created_at", "time_spent_ms")
        assert {k: v for k, v in fast_row.items() if k not in own} == {k: v for k, v in orm_row.items() if k not in own}
    assert taken == ["claim", "submit"] * 3  # the fast labeler's calls all took the fast path
    from django.db import connection

    with connection.cursor() as cursor:  # and its statements are prepared once per connection, not planned each time
        cursor.execute("SELECT count(*) FROM pg_prepared_statements")
        assert cursor.fetchone()[0] >= 3
    for task in RankingTask.objects.filter(pk__in=[t.pk for t in tasks]):
        assert (task.rankings_count, task.active_count, task.fill, task.is_complete) == (2, 0, 2, True)
        assert Consensus.objects.get(task=task).n_rankings == 2
    assert set(Assignment.objects.values_list("status", flat=True)) == {"submitted"}
    assert Ranking.objects.filter(labeler=fast_user).count() == Ranking.objects.filter(labeler=orm_user).count() == 3
    assert Ranking.objects.filter(project=project).count() == 6  # both paths record the task's project
    orm_turn["on"] = False
    assert fast.post(f"/api/v1/annotation/next?project={project.slug}").status_code == 204


def test_the_fast_paths_refuse_like_the_orm_path(project, make_tasks, labelers, other_project):
    from rest_framework.test import APIClient

    make_tasks(2, overlap=1)
    (user,) = labelers(1)
    client = APIClient()
    client.force_authenticate(user)
    task = client.post(f"/api/v1/annotation/next?project={project.slug}").json()
    url = f"/api/v1/annotation/tasks/{task['task']}/ranking"
    assert client.post(url, {"ranking": [1, 2]}, format="json").status_code == 400  # not the task's completions
    assert client.post(url, {}, format="json").status_code == 400  # neither ranked nor flagged
    ids = [c["id"] for c in task["completions"]]
    assert client.post(url, {"ranking": ids}, format="json").status_code == 201
    assert client.post(url, {"ranking": ids}, format="json").status_code == 200  # the same again: the stored one
    assert client.post(url, {"ranking": ids[::-1]}, format="json").status_code == 409
    from projects.services import create_user

    outsider = APIClient()
    outsider.force_authenticate(create_user(username="outsider", role="labeler", project=other_project)[0])
    assert outsider.post(url, {"ranking": ids}, format="json").status_code == 404
    assert outsider.post(f"/api/v1/annotation/next?project={project.slug}").status_code == 404


def test_a_store_that_finds_the_task_changed_reads_it_again(project, make_tasks, labelers, monkeypatch):
    """The submit reads the task without a lock; when another labeler's submission lands between the read and the
    store, the store writes nothing and the submit reads again, so both rankings count and the consensus has both."""
    from rest_framework.test import APIClient

    from annotation import fastpath
    from annotation.models import Consensus, Ranking, RankingTask

    make_tasks(1, overlap=2)
    first, second = labelers(2)
    clients = {}
    for user in (first, second):
        clients[user] = APIClient()
        clients[user].force_authenticate(user)
    tasks = {u: c.post(f"/api/v1/annotation/next?project={project.slug}").json() for u, c in clients.items()}
    assert tasks[first]["task"] == tasks[second]["task"]
    url = f"/api/v1/annotation/tasks/{tasks[first]['task']}/ranking"
    ids = [c["id"] for c in tasks[first]["completions"]]
    real, stores = fastpath.first_row_prepared, []

    def interleaved(sql, params):
        if sql is fastpath._STORE:
            stores.append(params["user"])
            if len(stores) == 1:  # the first labeler's store: the second labeler submits just before it
                assert clients[second].post(url, {"ranking": ids[::-1]}, format="json").status_code == 201
        return real(sql, params)

    monkeypatch.setattr(fastpath, "first_row_prepared", interleaved)
    answer = clients[first].post(url, {"ranking": ids}, format="json")
    assert answer.status_code == 201, answer.content
    assert stores == [first.pk, second.pk, first.pk]  # the first store found the task changed; the retry stored
    task = RankingTask.objects.get(pk=tasks[first]["task"])
    assert (task.rankings_count, task.active_count, task.fill, task.is_complete) == (2, 0, 2, True)
    assert Ranking.objects.filter(task=task).count() == 2 and Consensus.objects.get(task=task).n_rankings == 2


def test_a_claim_commits_without_the_wal_flush_only_as_its_own_transaction(project, make_tasks, labelers):
    """A claim alone is a lease and commits asynchronously; inside a caller's transaction the caller's writes keep
    their durable commit."""
    from django.db import connection, transaction

    from annotation import claims, fastpath

    make_tasks(2, overlap=1)
    first, second = labelers(2)
    assert fastpath._LEASE_COMMIT in fastpath._claim_sql("sequential", True)
    with transaction.atomic():
        assert claims.claim_next_task_view(project=project, labeler=first).completions is not None  # the fast path
        with connection.cursor() as cursor:
            cursor.execute("SHOW synchronous_commit")
            assert cursor.fetchone()[0] == "on"
    assert claims.claim_next_task_view(project=project, labeler=second).completions is not None
    with connection.cursor() as cursor:  # the setting ended with the claim's own transaction
        cursor.execute("SHOW synchronous_commit")
        assert cursor.fetchone()[0] == "on"


def test_both_paths_take_their_rules_from_ranking_rules(project, make_tasks, labelers, monkeypatch):
    """A limit changed in annotation/ranking_rules.py changes what both paths store; the claim order's SQL (fast
    path) and ORM expressions (claims.py) are made from one definition and say the same."""
    import re

    from annotation import claims, fastpath
    from annotation import ranking_rules as rules
    from annotation.models import RankingTask, TaskOrder

    monkeypatch.setattr(rules, "COMMENT_MAX_CHARS", 7)
    monkeypatch.setattr(rules, "MAX_TIME_SPENT_MS", 1234)
    make_tasks(1, overlap=2)
    fast_user, orm_user = labelers(2)
    real_submit, fast_answers = fastpath.submit, []
    monkeypatch.setattr(fastpath, "submit", lambda **kw: fast_answers.append(real_submit(**kw)) or fast_answers[-1])
    stored = []
    for user in (fast_user, orm_user):
        task = claims.claim_next_ranking_task(project=project, labeler=user).task
        submit = claims.submit_ranking_to if user == fast_user else claims.submit_ranking
        where = {"task_id": task.pk} if user == fast_user else {"task": task}
        row, created = submit(**where, labeler=user, ranking=task.completion_ids, comment="x" * 20, time_spent_ms=10**6)
        stored.append((created, row.comment, row.time_spent_ms))
    assert fast_answers and fast_answers[0] is not None  # the first submit took the fast path
    assert stored == [(True, "x" * 7, 1234)] * 2

    def plain(order_sql):
        return re.sub(r"\s+", " ", order_sql.replace('"', "")).strip()

    for order in TaskOrder.values:
        orm_sql = str(RankingTask.objects.order_by(*rules.claim_order(order)).query).split(" ORDER BY ")[1]
        assert plain(orm_sql) == plain(rules.claim_order_sql(order, "annotation_rankingtask"))


def test_both_paths_check_and_store_what_the_project_asks_besides_the_order(project, make_tasks, labelers, monkeypatch):
    """Aspects, a strength per pair and a rationale (annotation/aspects.py): the fast path refuses and stores them
    exactly as the ORM path does."""
    from rest_framework.test import APIClient

    from annotation import fastpath
    from annotation.models import Ranking
    from annotation.services import update_ranking_config

    make_tasks(1, k=3, overlap=2)
    aspect = {"key": "helpfulness", "label": "Helpfulness", "label_zh": "有用性", "min": 0, "max": 4}
    update_ranking_config(project=project, aspects=[aspect], ask_strength=True, rationale="required")
    fast_user, orm_user = labelers(2)
    real_submit, answered = fastpath.submit, []

    def submit(**kw):
        if kw["labeler"] == orm_user:
            return None
        answered.append(real_submit(**kw))
        return answered[-1]

    monkeypatch.setattr(fastpath, "submit", submit)
    for user in (fast_user, orm_user):
        client = APIClient()
        client.force_authenticate(user)
        task = client.post(f"/api/v1/projects/{project.slug}/annotation/next").json()
        ids = [c["id"] for c in task["completions"]]
        url = f"/api/v1/projects/{project.slug}/annotation/tasks/{task['task']}/ranking"
        scores = {str(cid): {"helpfulness": n} for n, cid in enumerate(ids)}
        body = {"ranking": ids, "aspects": scores, "strengths": ["better", "tie"], "rationale": "why"}
        for change, field in [
            ({"aspects": {}}, "aspects"),
            ({"strengths": ["tie"]}, "strengths"),
            ({"rationale": ""}, "rationale"),
        ]:
            refused = client.post(url, {**body, **change}, format="json")
            assert refused.status_code == 400 and refused.json()["detail"].startswith(f"{field}: "), refused.json()
        assert client.post(url, body, format="json").status_code == 201
    assert len(answered) == 1 and answered[0] is not None  # the fast labeler's submission took the fast path
    fast, orm = (Ranking.objects.get(labeler=user) for user in (fast_user, orm_user))
    assert (fast.aspects, fast.strengths, fast.rationale) == (orm.aspects, orm.strengths, orm.rationale)
    assert fast.strengths == ["better", "tie"] and fast.rationale == "why" and len(fast.aspects) == 3
