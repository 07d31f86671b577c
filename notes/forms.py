from django import forms
from django.contrib.auth import get_user_model
from django.contrib.auth.forms import UserCreationForm

from notes.models import TITLE_MAX_LENGTH


class SignupForm(UserCreationForm):
    email = forms.EmailField(
        required=False, help_text="Optional: lets others share notes with you."
    )

    class Meta(UserCreationForm.Meta):
        model = get_user_model()
        fields = ("username", "email")


class RenameForm(forms.Form):
    title = forms.CharField(max_length=TITLE_MAX_LENGTH, strip=True)


ROLE_CHOICES = [("editor", "Can edit"), ("viewer", "Can view")]


class ShareForm(forms.Form):
    """Add a person by username or email."""

    who = forms.CharField(max_length=254, label="Username or email", strip=True)
    role = forms.ChoiceField(choices=ROLE_CHOICES)

    def clean_who(self):
        who = self.cleaned_data["who"]
        users = get_user_model().objects.filter(is_active=True)
        user = users.filter(username__iexact=who).first() or (
            users.filter(email__iexact=who).first() if "@" in who else None
        )
        if user is None:
            raise forms.ValidationError(f"No user called “{who}”.")
        return user


class LinkForm(forms.Form):
    role = forms.ChoiceField(choices=ROLE_CHOICES)


class SaveVersionForm(forms.Form):
    name = forms.CharField(max_length=TITLE_MAX_LENGTH, strip=True, required=False)


class ImportForm(forms.Form):
    file = forms.FileField(allow_empty_file=True)
