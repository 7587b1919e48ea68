from django.db import migrations

# portfolio.org_keys no longer adds same-organization keys to derived facts;
# drop the two it added to FlowWipSpan when 0007 was applied.
DROP = """
ALTER TABLE streams_flowwipspan
    DROP CONSTRAINT IF EXISTS streams_flowwipspan_item_id_same_org,
    DROP CONSTRAINT IF EXISTS streams_flowwipspan_value_stream_id_same_org
"""


class Migration(migrations.Migration):
    dependencies = [("streams", "0008_done_index_covers")]

    operations = [migrations.RunSQL(DROP, migrations.RunSQL.noop)]
