from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("metrics", "0003_quarterly_reports"),
    ]

    operations = [
        migrations.AddField(
            model_name="recomputestate",
            name="version",
            field=models.BigIntegerField(default=0),
        ),
    ]
