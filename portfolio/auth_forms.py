from django.contrib.auth.forms import AuthenticationForm


class EmailAuthenticationForm(AuthenticationForm):
    """Sign in with the email; usernames are the lowercased email."""

    def clean_username(self) -> str:
        return (self.cleaned_data.get("username") or "").strip().lower()
