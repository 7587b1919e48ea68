from django.http import HttpRequest

from portfolio.selectors import memberships_of_user


def organizations(request: HttpRequest) -> dict:
    """The user's organizations, for the switcher in the base layout."""
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return {}
    return {
        "my_memberships": memberships_of_user(user=user),
        "organization": getattr(request, "organization", None),
        "membership": getattr(request, "membership", None),
    }
