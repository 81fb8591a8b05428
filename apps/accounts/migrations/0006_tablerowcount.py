"""Keeps accounts_user's row count in accounts_tablerowcount, on PostgreSQL (SQLite counts its rows itself).

Statement-level triggers with transition tables: a bulk insert of 100,000 users is one counter update.
TRUNCATE (what Django's flush runs) resets the count. A missing counter row is recreated from a full count the
next time the table changes, so the count never starts from a wrong base.
"""

from django.db import migrations, models

COUNT_FUNCTION = """
CREATE FUNCTION accounts_count_rows() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    delta bigint;
BEGIN
    IF TG_OP = 'TRUNCATE' THEN
        INSERT INTO accounts_tablerowcount (table_name, row_count) VALUES (TG_TABLE_NAME, 0)
            ON CONFLICT (table_name) DO UPDATE SET row_count = 0;
        RETURN NULL;
    ELSIF TG_OP = 'INSERT' THEN
        SELECT count(*) INTO delta FROM added_rows;
    ELSE
        SELECT -count(*) INTO delta FROM removed_rows;
    END IF;
    UPDATE accounts_tablerowcount SET row_count = row_count + delta WHERE table_name = TG_TABLE_NAME;
    IF NOT FOUND THEN
        EXECUTE format(
            'INSERT INTO accounts_tablerowcount (table_name, row_count) SELECT %L, count(*) FROM %I '
            'ON CONFLICT (table_name) DO NOTHING',
            TG_TABLE_NAME, TG_TABLE_NAME
        );
    END IF;
    RETURN NULL;
END
$$;
"""

TRIGGERS = """
CREATE TRIGGER accounts_user_count_insert AFTER INSERT ON accounts_user
    REFERENCING NEW TABLE AS added_rows FOR EACH STATEMENT EXECUTE FUNCTION accounts_count_rows();
CREATE TRIGGER accounts_user_count_delete AFTER DELETE ON accounts_user
    REFERENCING OLD TABLE AS removed_rows FOR EACH STATEMENT EXECUTE FUNCTION accounts_count_rows();
CREATE TRIGGER accounts_user_count_truncate AFTER TRUNCATE ON accounts_user
    FOR EACH STATEMENT EXECUTE FUNCTION accounts_count_rows();
INSERT INTO accounts_tablerowcount (table_name, row_count) SELECT 'accounts_user', count(*) FROM accounts_user
    ON CONFLICT (table_name) DO UPDATE SET row_count = EXCLUDED.row_count;
"""

DROP = """
DROP TRIGGER IF EXISTS accounts_user_count_insert ON accounts_user;
DROP TRIGGER IF EXISTS accounts_user_count_delete ON accounts_user;
DROP TRIGGER IF EXISTS accounts_user_count_truncate ON accounts_user;
DROP FUNCTION IF EXISTS accounts_count_rows();
"""


def create_triggers(apps, schema_editor):  # type: ignore[no-untyped-def]
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(COUNT_FUNCTION, params=None)
        schema_editor.execute(TRIGGERS, params=None)


def drop_triggers(apps, schema_editor):  # type: ignore[no-untyped-def]
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(DROP, params=None)


class Migration(migrations.Migration):
    dependencies = [
        ("accounts", "0005_roleprofile_require_two_factor"),
    ]

    operations = [
        migrations.CreateModel(
            name="TableRowCount",
            fields=[
                ("table_name", models.CharField(max_length=63, primary_key=True, serialize=False)),
                ("row_count", models.BigIntegerField()),
            ],
            options={"verbose_name": "table row count"},
        ),
        migrations.RunPython(create_triggers, drop_triggers),
    ]
