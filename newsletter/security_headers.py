"""Headers every answer carries: what a browser may load, frame, cache and send on.

A small after-request hook rather than flask-talisman: the app has its own HTTPS and
cookie settings (config.py), and what differs per page (framing, caching) is two sets of
endpoints here.
"""

from flask import Flask, Response, request

# Scripts come only from our own files: no inline script or handler runs, so injected
# markup can't run code. Styles may be inline because mail HTML is (MJML's <style>,
# premailer's style attributes) and the composer shows it in srcdoc frames, which take
# this page's policy. Mail may show images from anywhere on https.
CONTENT_SECURITY_POLICY = "; ".join(
    [
        "default-src 'self'",
        "script-src 'self'",
        "style-src 'self' 'unsafe-inline'",
        "img-src 'self' data: https:",
        "object-src 'none'",
        "base-uri 'none'",
        "form-action 'self'",
        "frame-ancestors 'none'",
    ]
)

# Pages that hold nothing personal and may be kept by browsers and proxies.
CACHEABLE_ENDPOINTS = {
    "static",
    "public.media",
    "public.media_file",
    "public.hosted_file",
    "public.archive",
    "public.archive_feed",
    "public.view_issue",
    "api_docs_assets.asset",
}


def add_security_headers(response: Response) -> Response:
    headers = response.headers
    headers.setdefault("Content-Security-Policy", CONTENT_SECURITY_POLICY)
    headers.setdefault("X-Content-Type-Options", "nosniff")
    headers.setdefault("Referrer-Policy", "same-origin")
    headers.setdefault("X-Frame-Options", "DENY")
    if request.endpoint not in CACHEABLE_ENDPOINTS:
        # Preference centre, data export, token pages and every admin page: a shared or
        # back-button cache must not keep someone's data or a one-time secret.
        headers["Cache-Control"] = "no-store"
    return response


def init_security_headers(app: Flask) -> None:
    app.after_request(add_security_headers)
