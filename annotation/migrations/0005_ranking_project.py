"""Rankings carry their task's project (a labeler's count of rankings in a project, asked with every claim, reads one
index range); existing rows take it from their task."""

import django.db.models.deletion
from django.db import migrations, models


def backfill(apps, schema_editor):
    Ranking = apps.get_model("annotation", "Ranking")
    RankingTask = apps.get_model("annotation", "RankingTask")
    Ranking.objects.update(
        project_id=models.Subquery(RankingTask.objects.filter(pk=models.OuterRef("task_id")).values("project_id")[:1])
    )


class Migration(migrations.Migration):
    dependencies = [
        ("annotation", "0004_open_task_lease_index"),
        ("projects", "0001_initial"),
    ]

    operations = [
        migrations.AddField(
            model_name="ranking",
            name="project",
            field=models.ForeignKey(
                db_index=False,
                editable=False,
                null=True,
                on_delete=django.db.models.deletion.CASCADE,
                related_name="+",
                to="projects.project",
            ),
        ),
        migrations.RunPython(backfill, migrations.RunPython.noop),
    ]
