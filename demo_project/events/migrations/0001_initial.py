from django.db import migrations, models


class Migration(migrations.Migration):
    initial = True

    dependencies: list[tuple[str, str]] = []

    operations = [
        migrations.CreateModel(
            name="Event",
            fields=[
                (
                    "id",
                    models.BigAutoField(
                        auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                    ),
                ),
                ("source", models.CharField(db_index=True, max_length=64)),
                ("kind", models.CharField(blank=True, max_length=100)),
                ("payload", models.JSONField(blank=True, default=dict)),
                ("request_id", models.CharField(db_index=True, max_length=32)),
                ("remote_addr", models.GenericIPAddressField(blank=True, null=True)),
                ("stored_at", models.DateTimeField(auto_now_add=True, db_index=True)),
            ],
            options={"ordering": ["-id"]},
        ),
    ]
