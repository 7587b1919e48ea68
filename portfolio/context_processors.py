from django.http import HttpRequest

from portfolio.models import may_administer, may_edit
from portfolio.selectors import memberships_of_user


def organizations(request: HttpRequest) -> dict:
    """The user's organizations, for the switcher in the base layout."""
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return {}
    membership = getattr(request, "membership", None)
    return {
        "my_memberships": memberships_of_user(user=user),
        "organization": getattr(request, "organization", None),
        "membership": membership,
        # The one role rule, for every template: show a control only to whom
        # the view behind it will let through.
        "can_edit": may_edit(membership),
        "can_admin": may_administer(membership),
    }
