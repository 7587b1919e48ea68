"""Create the owner and app roles and the database, with the credentials of DATABASE_URL."""

from typing import Any

from django.core.management.base import BaseCommand, CommandError

from config import database


class Command(BaseCommand):
    help = (
        "Creates (or updates) the owner and app roles and the database on the server of "
        "DATABASE_URL, using that URL's credentials (a superuser or a role with CREATEROLE). "
        "Idempotent. The embedded server is provisioned automatically."
    )

    def handle(self, *args: Any, **options: Any) -> None:
        import psycopg

        srv = database.server()
        r = database.roles()
        try:
            done = database.provision(srv, r)
        except psycopg.Error as exc:
            raise CommandError(
                f"could not provision {srv.name} on {srv.host} as {srv.admin_user}: "
                f"{str(exc).strip().splitlines()[0]}"
            ) from exc
        for line in done:
            self.stdout.write(line)
        self.stdout.write(
            f"database {srv.name}: owner role {r.owner} (migrations), app role {r.app} (requests, "
            "workers, commands)"
        )
