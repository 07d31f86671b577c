"""Personal API tokens: only a hash of each secret is stored; the secret is shown once."""

import hashlib
import secrets

from django.utils import timezone

from notes.models import ApiToken

API_TOKEN_PREFIX = "cn_"


def _token_hash(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


def api_token_create(*, user, name: str) -> tuple[ApiToken, str]:
    """Create a token; returns it with its secret, which is shown once and never stored."""
    key = API_TOKEN_PREFIX + secrets.token_urlsafe(32)
    token = ApiToken.objects.create(
        user=user, name=name.strip()[:100] or "Token", key_hash=_token_hash(key), prefix=key[:10]
    )
    return token, key


def api_token_authenticate(*, key: str):
    """The active user a token belongs to, or None; records when it was last used."""
    token = (
        ApiToken.objects.select_related("user")
        .filter(key_hash=_token_hash(key), user__is_active=True)
        .first()
    )
    if token is None:
        return None
    ApiToken.objects.filter(pk=token.pk).update(last_used_at=timezone.now())
    return token.user


def api_token_revoke(*, token: ApiToken) -> None:
    token.delete()
