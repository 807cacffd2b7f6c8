from django.db import migrations, models


def count_existing_snapshots(apps, schema_editor):
    """Tally every finished snapshot's charts from its rows, once (rows never change)."""
    from macros.chart_data import tally

    Snapshot = apps.get_model("macros", "Snapshot")
    SnapshotRow = apps.get_model("macros", "SnapshotRow")
    for snapshot in Snapshot.objects.filter(complete=True, group_counts__isnull=True).iterator(chunk_size=100):
        issues = (
            SnapshotRow.objects.filter(snapshot_id=snapshot.pk, level=1)
            .order_by("position")
            .values_list("data", flat=True)
            .iterator(chunk_size=1000)
        )
        more, groups = tally(snapshot.columns, issues)
        Snapshot.objects.filter(pk=snapshot.pk).update(counts={**(snapshot.counts or {}), **more}, group_counts=groups)


class Migration(migrations.Migration):

    dependencies = [
        ('macros', '0003_macro_schedules'),
    ]

    operations = [
        migrations.AddField(
            model_name='snapshot',
            name='group_counts',
            field=models.JSONField(blank=True, null=True),
        ),
        migrations.RunPython(count_existing_snapshots, migrations.RunPython.noop, elidable=True),
    ]
