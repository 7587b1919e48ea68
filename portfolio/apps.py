from django.apps import AppConfig
from django.contrib.auth.signals import user_logged_in, user_login_failed
from django.db.models.signals import post_migrate


class PortfolioConfig(AppConfig):
    name = "portfolio"
    verbose_name = "Portfolio"

    def ready(self) -> None:
        from portfolio import audit, rls

        # Once per migrate, after every app's migrations: bring RLS and grants up to date.
        post_migrate.connect(rls.post_migrate, sender=self, dispatch_uid="portfolio-rls")
        # Sign-ins and failed sign-ins go to the audit log of the user's organizations.
        user_logged_in.connect(audit.on_user_logged_in, dispatch_uid="portfolio-audit-login")
        user_login_failed.connect(
            audit.on_user_login_failed, dispatch_uid="portfolio-audit-login-failed"
        )
