"""Third-party front-end code, pinned. The URL can point at a self-hosted copy (air-gapped
installs); the SRI hash is of the file itself, so it stays the same."""

HTMX_VERSION = "2.0.11"
HTMX_URL = f"https://unpkg.com/htmx.org@{HTMX_VERSION}/dist/htmx.min.js"
HTMX_SRI = "sha384-2OatzQy1H+Zd/IIrjr1TcuDGqLXeHhbooAyJY1KdQMKnr4LZ22k31GBLdYKHmVjg"
