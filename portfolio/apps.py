from django.apps import AppConfig
from django.db.models.signals import post_migrate


class PortfolioConfig(AppConfig):
    name = "portfolio"
    verbose_name = "Portfolio"

    def ready(self) -> None:
        from portfolio import rls

        # Once per migrate, after every app's migrations: bring RLS and grants up to date.
        post_migrate.connect(rls.post_migrate, sender=self, dispatch_uid="portfolio-rls")
