"""Dataset versions: SFT and preference rows, deterministic group splits, immutable content hashes, downloads in
every format (ETag, Range resume, gzip, Parquet) that load with `datasets`, scoped to the consumer's projects."""

import gzip
import json

import pytest

from annotation.claims import claim_next_ranking_task, submit_ranking
from demo.teacher import default_seed_files
from exports.models import DatasetVersion, VersionStatus
from exports.services import DatasetError, build_dataset_version, create_dataset_version
from selfinstruct.services import import_seed_file


def build(project, kind, **kw):
    version = create_dataset_version(project=project, kind=kind, **kw)
    build_dataset_version(version_id=version.pk)
    version.refresh_from_db()
    assert version.status == VersionStatus.READY, version.error
    return version


@pytest.fixture
def ranked(project, make_tasks, labelers):
    """3 tasks of K=4 ranked by 2 labelers (the second reverses the middle pair)."""
    tasks = make_tasks(3, k=4, overlap=2)
    for n, user in enumerate(labelers(2)):
        for _ in tasks:
            assignment = claim_next_ranking_task(project=project, labeler=user)
            ids = list(assignment.task.completion_ids)
            if n == 1:
                ids[1], ids[2] = ids[2], ids[1]
            submit_ranking(task=assignment.task, labeler=user, ranking=ids)
    return tasks


def rows_of(path):
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


def test_preference_rows_are_all_pairs_of_each_ranking(project, ranked):
    version = build(project, "preference", test_fraction=0.34, split_seed=3)
    assert version.row_count == 2 * 3 * 6  # 2 rankings x 3 tasks x C(4,2)
    assert version.stats["rows_per_group"] == {"mean": 12.0, "max": 12} and version.lineage["rankings"] == 6
    assert version.lineage["labelers"] == ["ranker0", "ranker1"] and version.lineage["tasks"] == 3
    from exports.files import local_rows

    rows = rows_of(local_rows(version))
    splits_per_group = {}
    for row in rows:
        splits_per_group.setdefault(row["group_id"], set()).add(row["split"])
        assert row["margin"] >= 1 and row["chosen"] != row["rejected"]
    assert all(len(s) == 1 for s in splits_per_group.values())  # a prompt's pairs never straddle splits
    consensus = build(project, "preference", filters={"consensus": True})
    # one pair is 1:1 between the two labelers, so the consensus ties it and it yields no pair: 5 per task
    assert consensus.row_count == 3 * 5 and consensus.lineage["from_consensus"] is True
    agreeing = build(project, "preference", filters={"min_agreement": 0.9})
    assert agreeing.row_count == 0  # the two labelers agree on 5 of 6 pairs (0.83) on every task


def test_same_inputs_give_the_same_hash_and_bytes(project, ranked):
    first = build(project, "preference")
    second = build(project, "preference")
    assert first.number == 1 and second.number == 2 and first.content_hash == second.content_hash
    all_train = build(project, "preference", test_fraction=0.0)
    assert all_train.test_rows == 0 and (all_train.content_hash != first.content_hash) == (first.test_rows > 0)


def test_split_is_stable_per_group_and_close_to_the_fraction():
    from exports.services import split_of

    groups = [f"prompt-{i}" for i in range(10_000)]
    splits = [split_of(g, seed=1, test_fraction=0.2) for g in groups]
    assert splits == [split_of(g, seed=1, test_fraction=0.2) for g in groups]
    assert 0.18 < splits.count("test") / len(splits) < 0.22
    assert splits != [split_of(g, seed=2, test_fraction=0.2) for g in groups]


def test_sft_rows_from_seeds(project):
    for path in default_seed_files():
        import_seed_file(project=project, path=path)
    version = build(project, "sft")
    assert version.row_count >= 60 and set(version.stats["languages"]) == {"en", "zh"}
    assert version.lineage["seeds"] >= 60 and version.train_rows + version.test_rows == version.row_count
    zh = build(project, "sft", filters={"languages": ["zh"]})
    assert set(zh.stats["languages"]) == {"zh"} and zh.row_count < version.row_count


def test_bad_filters_are_refused_and_nothing_is_created(project):
    cases = {
        "unknown filter": {"labelers": ["x"]},
        "filters.date_from: not an ISO date": {"date_from": "yesterday"},
        "filters.languages: a list of strings": {"languages": "zh"},
    }
    for message, filters in cases.items():
        with pytest.raises(DatasetError, match=message):
            create_dataset_version(project=project, kind="sft", filters=filters)
    with pytest.raises(DatasetError, match="min_agreement"):
        create_dataset_version(project=project, kind="preference", filters={"min_agreement": 2})
    assert not DatasetVersion.objects.exists()


def test_download_api_etag_range_gzip_and_scoping(api_as, project, ranked):
    version = build(project, "preference")
    client = api_as("consumer")
    url = f"/api/v1/datasets/{version.pk}/download?format=trl-preference&split=all"
    full = client.get(url)
    body = b"".join(full.streaming_content)
    assert full.status_code == 200 and full["Accept-Ranges"] == "bytes" and len(body) == int(full["Content-Length"])
    etag = full["ETag"]
    lines = [json.loads(x) for x in body.decode().splitlines()]
    assert len(lines) == version.row_count and set(lines[0]) == {"prompt", "chosen", "rejected", "margin"}
    part = client.get(url, HTTP_RANGE="bytes=100-", HTTP_IF_RANGE=etag)
    assert part.status_code == 206 and body[:100] + b"".join(part.streaming_content) == body
    assert part["Content-Range"] == f"bytes 100-{len(body) - 1}/{len(body)}"
    assert client.get(url, HTTP_IF_NONE_MATCH=etag).status_code == 304
    assert client.get(url, HTTP_RANGE=f"bytes={len(body) + 5}-").status_code == 416
    zipped = client.get(url + "&gzip=1")
    assert gzip.decompress(b"".join(zipped.streaming_content)) == body and zipped["ETag"] != etag
    again = client.get(url)
    assert again["ETag"] == etag and b"".join(again.streaming_content) == body  # byte-identical every time
    bad = client.get(f"/api/v1/datasets/{version.pk}/download?format=alpaca")
    assert bad.status_code == 400 and bad.json()["detail"].startswith("format:")
    assert client.get(f"/api/v1/datasets/{version.pk}/download?format=raw&split=dev").status_code == 400
    assert api_as("other_consumer").get(url).status_code == 404
    assert api_as("labeler").get(url).status_code == 404  # labelers label; consumers and admins export
    detail = client.get(f"/api/v1/datasets/{version.pk}/").json()
    assert detail["content_hash"] == version.content_hash and detail["lineage"]["tasks"] == 3


def test_a_range_of_thousands_of_digits_is_416_never_500(api_as, project, ranked):
    """Issue 34, finding 8: `Range: bytes=<5000 digits>-` made int() raise (a 500, in production too: the same view
    streams every download unless the store is asked to redirect)."""
    version = build(project, "preference")
    client = api_as("consumer")
    url = f"/api/v1/datasets/{version.pk}/download?format=raw"
    size = int(client.get(url)["Content-Length"])
    huge = "9" * 5000
    for header in (f"bytes={huge}-", f"bytes=0-{huge}", f"bytes=-{huge}", f"bytes={'9' * 20}-"):
        response = client.get(url, HTTP_RANGE=header)
        assert response.status_code == 416 and response["Content-Range"] == f"bytes */{size}", header
    part = client.get(url, HTTP_RANGE=f"bytes=0-{'9' * 19}")  # 19 digits: an end past the file is the whole file
    assert part.status_code == 206 and part["Content-Range"] == f"bytes 0-{size - 1}/{size}"


def test_create_through_the_api(api_as, project, ranked):
    client = api_as("consumer")
    response = client.post(
        "/api/v1/datasets/", {"project": "alpha", "kind": "preference", "filters": {"consensus": True}}, format="json"
    )
    assert response.status_code == 201, response.json()
    assert response.json()["status"] == "building" and response.json()["number"] == 1
    bad = client.post("/api/v1/datasets/", {"project": "alpha", "kind": "sft", "filters": {"nope": 1}}, format="json")
    assert bad.status_code == 400 and "unknown filter" in bad.json()["detail"]
    assert (
        api_as("other_consumer")
        .post("/api/v1/datasets/", {"project": "alpha", "kind": "sft"}, format="json")
        .status_code
        == 404
    )


def test_the_project_scoped_routes_and_the_flat_ones_successor_link(api_as, project, other_project, ranked):
    version = build(project, "preference")
    client, base = api_as("consumer"), f"/api/v1/projects/{project.slug}/datasets"
    listed = client.get(base)
    assert listed.status_code == 200 and "Deprecation" not in listed
    assert [v["id"] for v in listed.json()] == [version.pk]
    assert client.get(f"{base}/{version.pk}").json()["content_hash"] == version.content_hash
    download = client.get(f"{base}/{version.pk}/download?format=raw")
    assert download.status_code == 200 and b"".join(download.streaming_content)
    created = client.post(base, {"kind": "sft"}, format="json")
    assert created.status_code == 201 and created.json()["project"] == project.slug
    # another project's version is not there through this project's route; nor is a project the caller is not in
    assert api_as("admin").get(f"/api/v1/projects/{other_project.slug}/datasets/{version.pk}").status_code == 404
    assert api_as("other_consumer").get(base).status_code == 404
    flat = client.get(f"/api/v1/datasets/{version.pk}")
    assert flat.status_code == 200 and flat["Link"] == f'<{base}/{version.pk}>; rel="successor-version"'


@pytest.mark.parametrize(
    ("kind", "shape"), [("sft", "alpaca"), ("sft", "messages"), ("sft", "trl-sft"), ("preference", "trl-preference")]
)
def test_every_format_loads_with_hf_datasets(project, ranked, tmp_path, kind, shape):
    from datasets import load_dataset

    from exports.services import materialize

    for path in default_seed_files():
        import_seed_file(project=project, path=path)
    version = build(project, kind)
    jsonl, _ = materialize(version=version, shape=shape, split="train", file_type="jsonl", compress=False)
    parquet, _ = materialize(version=version, shape=shape, split="train", file_type="parquet", compress=False)
    a = load_dataset("json", data_files=str(jsonl), split="train", cache_dir=str(tmp_path / "c1"))
    b = load_dataset("parquet", data_files=str(parquet), split="train", cache_dir=str(tmp_path / "c2"))
    assert len(a) == len(b) == version.train_rows and a.column_names == b.column_names
    assert a[0] == b[0]


def test_a_version_does_not_change_when_its_sources_are_deleted(api_as, project, ranked):
    from annotation.models import Ranking

    version = build(project, "preference")
    client = api_as("consumer")
    url = f"/api/v1/datasets/{version.pk}/download?format=trl-preference"
    before = b"".join(client.get(url).streaming_content)
    Ranking.objects.all().delete()
    after = client.get(url)
    assert b"".join(after.streaming_content) == before and after["ETag"]
    assert build(project, "preference").row_count == 0  # a new version sees the deletion; the old one does not


def test_admin_creates_a_version_and_shows_downloads(cast, project, ranked):
    from django.test import Client

    client = Client()
    client.force_login(cast["admin"])
    bad = client.post(
        "/admin/exports/datasetversion/add/",
        {"project": project.pk, "kind": "preference", "filters": '{"nope": 1}', "test_fraction": 0.1, "split_seed": 0},
    )
    assert "unknown filter" in bad.content.decode() and not DatasetVersion.objects.exists()
    response = client.post(
        "/admin/exports/datasetversion/add/",
        {"project": project.pk, "kind": "preference", "filters": "", "test_fraction": 0.1, "split_seed": 0},
    )
    assert response.status_code == 302
    version = DatasetVersion.objects.get()
    build_dataset_version(version_id=version.pk)
    page = client.get(f"/admin/exports/datasetversion/{version.pk}/change/").content.decode()
    assert "format=trl-preference&amp;split=train" in page and "rows_per_group" in page
