"""Every ranking has its project (0005 filled it in); the index a labeler's count in a project reads. Its own
migration: on PostgreSQL a table cannot be altered in the transaction that updated its rows under deferred
foreign-key checks."""

import django.db.models.deletion
from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [("annotation", "0005_ranking_project")]

    operations = [
        migrations.AlterField(
            model_name="ranking",
            name="project",
            field=models.ForeignKey(
                db_index=False,
                editable=False,
                on_delete=django.db.models.deletion.CASCADE,
                related_name="+",
                to="projects.project",
            ),
        ),
        migrations.AddIndex(
            model_name="ranking",
            index=models.Index(
                condition=models.Q(("is_gold", False)), fields=["project", "labeler"], name="ranking_labeler_done"
            ),
        ),
    ]
