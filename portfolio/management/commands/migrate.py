"""``migrate`` runs as the owner role (the ``migrator`` alias), never as the app role."""

from typing import Any

from django.core.management.commands.migrate import Command as DjangoMigrate
from django.db import DEFAULT_DB_ALIAS


class Command(DjangoMigrate):
    help = DjangoMigrate.help + " Runs as the owner role unless --database names another alias."

    def handle(self, *args: Any, **options: Any) -> None:
        if options.get("database") in (None, DEFAULT_DB_ALIAS):
            options["database"] = "migrator"
        super().handle(*args, **options)
