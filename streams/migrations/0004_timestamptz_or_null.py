"""A safe text-to-timestamptz cast for set-based ingestion checks.

PostgreSQL 16 has pg_input_is_valid; on 15 a PL/pgSQL cast that catches the
error does the same (slower, so 16+ gets the plain SQL form, which inlines).
"""

from django.db import migrations

SQL_16 = """
CREATE OR REPLACE FUNCTION throughline_timestamptz_or_null(value text) RETURNS timestamptz
    LANGUAGE sql STABLE PARALLEL SAFE
    AS $$ SELECT CASE WHEN pg_input_is_valid(value, 'timestamptz') THEN value::timestamptz END $$;
"""

SQL_15 = """
CREATE OR REPLACE FUNCTION throughline_timestamptz_or_null(value text) RETURNS timestamptz
    LANGUAGE plpgsql STABLE PARALLEL SAFE
    AS $$ BEGIN RETURN value::timestamptz; EXCEPTION WHEN others THEN RETURN NULL; END $$;
"""


def create(apps, schema_editor):
    version = schema_editor.connection.cursor().connection.info.server_version
    schema_editor.execute(SQL_16 if version >= 160000 else SQL_15)


def drop(apps, schema_editor):
    schema_editor.execute("DROP FUNCTION IF EXISTS throughline_timestamptz_or_null(text)")


class Migration(migrations.Migration):
    dependencies = [("streams", "0003_delivery_events")]

    operations = [migrations.RunPython(create, drop)]
