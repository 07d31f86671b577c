"""Markdown to safe HTML on the server (exports, history). Pure: no Django models.

The browser preview uses markdown-it with DOMPurify; here Python-Markdown renders and nh3
(the Rust ammonia sanitiser) keeps only harmless tags and attributes, so a note containing
<script> or onerror= renders inert.
"""

import markdown as markdown_lib
import nh3

EXTENSIONS = ["extra", "sane_lists", "nl2br"]
ALLOWED_TAGS = nh3.ALLOWED_TAGS | {"input", "details", "summary"}
ALLOWED_ATTRIBUTES = {
    **nh3.ALLOWED_ATTRIBUTES,
    "input": {"type", "checked", "disabled"},
    "th": {"align"},
    "td": {"align"},
}


def markdown_to_safe_html(source: str) -> str:
    html = markdown_lib.markdown(source, extensions=EXTENSIONS, output_format="html")
    return nh3.clean(
        html,
        tags=ALLOWED_TAGS,
        attributes=ALLOWED_ATTRIBUTES,
        url_schemes={"http", "https", "mailto"},
        link_rel="noopener noreferrer nofollow",
    )


STANDALONE_CSS = """
body{font:16px/1.6 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;max-width:760px;
margin:40px auto;padding:0 16px;color:#1d2330}
pre,code{font-family:ui-monospace,Menlo,Consolas,monospace;background:#f3f4f6;border-radius:4px}
pre{padding:12px;overflow:auto}code{padding:1px 4px}blockquote{border-left:4px solid #dde1e7;
margin:0;padding-left:14px;color:#5f6b7a}table{border-collapse:collapse}
th,td{border:1px solid #dde1e7;padding:4px 8px}img{max-width:100%}
"""


def standalone_html(*, title: str, source: str) -> str:
    """A complete, self-contained HTML document (no external assets, no scripts)."""
    from html import escape

    return (
        '<!doctype html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n'
        '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
        f"<title>{escape(title)}</title>\n<style>{STANDALONE_CSS}</style>\n</head>\n<body>\n"
        f"{markdown_to_safe_html(source)}\n</body>\n</html>\n"
    )
