"""Endpoints registered by serve_model before endpoints had an owner were global: any project could use another
project's served model. Each `job-<id>` endpoint serving a job's model now belongs to that job's project."""

from django.db import migrations


def own_served_endpoints(apps, schema_editor):
    LLMEndpoint = apps.get_model("llm", "LLMEndpoint")
    TrainingJob = apps.get_model("training", "TrainingJob")
    for endpoint in LLMEndpoint.objects.filter(project__isnull=True, name__startswith="job-"):
        number = endpoint.name.removeprefix("job-")
        if endpoint.model != endpoint.name or not number.isascii() or not number.isdigit():
            continue
        job = TrainingJob.objects.filter(pk=int(number)).first()
        if job is not None:
            LLMEndpoint.objects.filter(pk=endpoint.pk).update(project_id=job.project_id)


class Migration(migrations.Migration):
    dependencies = [
        ("training", "0002_scoring_and_evaluations"),
        ("llm", "0002_endpoint_project_and_key_rule"),
    ]

    operations = [migrations.RunPython(own_served_endpoints, migrations.RunPython.noop)]
