"""Static files storage: hashed, compressed names once `collectstatic` has run; before that
(a plain `daphne collab.asgi:application` with debug off) the plain names, which WhiteNoise
serves from the app folders."""

from whitenoise.storage import CompressedManifestStaticFilesStorage


class StaticStorage(CompressedManifestStaticFilesStorage):
    def stored_name(self, name):
        try:
            return super().stored_name(name)
        except ValueError:  # not collected (no manifest entry): serve it under its own name
            return name
