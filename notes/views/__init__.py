"""
HTTP views: they parse the request, check access, call a service and render. No logic here.
Each area has its module (notes/urls.py and collab/urls.py import them by name):

- pages: the notes list, a note's page, new, rename, delete, export and import; the favicon.
- sharing: the owner's sharing page, and opening a share link.
- history: a note's revisions, saving a version, restoring one.
- accounts: sign-up, login and logout (throttled by notes.throttle, see its docstring),
  password change and reset (which end the user's other logins and sockets), and the API
  tokens page.
- access: the note lookups every view starts with (visible, managed, editable, or 404).

The JSON HTTP API is notes.api.
"""
