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
