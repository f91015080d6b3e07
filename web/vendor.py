"""Third-party front-end code, pinned. The URL can point at a self-hosted copy (air-gapped
installs, city intranets that cannot reach the CDN); the SRI hash is of the file itself, so it
stays the same."""

import re
from urllib.parse import urlsplit

HTMX_VERSION = "2.0.11"
HTMX_URL = f"https://unpkg.com/htmx.org@{HTMX_VERSION}/dist/htmx.min.js"
HTMX_SRI = "sha384-2OatzQy1H+Zd/IIrjr1TcuDGqLXeHhbooAyJY1KdQMKnr4LZ22k31GBLdYKHmVjg"

# Leaflet (maps on /lapor, /peta) and its marker-cluster plugin (/peta). TANGGAP_LEAFLET_BASE
# points at a folder holding the same five files under these names (a self-hosted copy).
LEAFLET_VERSION = "1.9.4"
MARKERCLUSTER_VERSION = "1.5.3"
_LEAFLET = f"https://unpkg.com/leaflet@{LEAFLET_VERSION}/dist"
_CLUSTER = f"https://unpkg.com/leaflet.markercluster@{MARKERCLUSTER_VERSION}/dist"
LEAFLET_FILES = {  # name: (CDN URL, SRI of the file)
    "leaflet.js": (f"{_LEAFLET}/leaflet.js",
                   "sha384-cxOPjt7s7Iz04uaHJceBmS+qpjv2JkIHNVcuOrM+YHwZOmJGBXI00mdUXEq65HTH"),
    "leaflet.css": (f"{_LEAFLET}/leaflet.css",
                    "sha384-sHL9NAb7lN7rfvG5lfHpm643Xkcjzp4jFvuavGOndn6pjVqS6ny56CAt3nsEVT4H"),
    "leaflet.markercluster.js": (f"{_CLUSTER}/leaflet.markercluster.js",
                                 "sha384-eXVCORTRlv4FUUgS/xmOyr66XBVraen8ATNLMESp92FKXLAMiKkerixTiBvXriZr"),
    "MarkerCluster.css": (f"{_CLUSTER}/MarkerCluster.css",
                          "sha384-pmjIAcz2bAn0xukfxADbZIb3t8oRT9Sv0rvO+BR5Csr6Dhqq+nZs59P0pPKQJkEV"),
    "MarkerCluster.Default.css": (f"{_CLUSTER}/MarkerCluster.Default.css",
                                  "sha384-wgw+aLYNQ7dlhK47ZPK7FRACiq7ROZwgFNg0m04avm4CaXS+Z9Y7nMu8yNjBKYC+"),
}
# bpmn-js (a process version's diagram, zoomed and panned: /admin/processes/<n>/diagram) and
# dmn-js (the routing table edited in the browser: /admin/processes/routing). Their
# TANGGAP_BPMN_JS_BASE and TANGGAP_DMN_JS_BASE point at a copy of the npm package's folder
# (the files below under the same paths). Only those two pages allow them in their policy.
BPMN_JS_VERSION = "18.31.1"
DMN_JS_VERSION = "17.10.2"
_BPMN_JS = f"https://unpkg.com/bpmn-js@{BPMN_JS_VERSION}"
_DMN_JS = f"https://unpkg.com/dmn-js@{DMN_JS_VERSION}"
BPMN_JS_FILES = {path: (f"{_BPMN_JS}/{path}", sri) for path, sri in {  # path in the package: (CDN URL, SRI)
    "dist/bpmn-navigated-viewer.production.min.js":
        "sha384-wF6qP24JnRn7l06mOet+Nu2lDkwo2k5Ts0UZ5xnsOXn0pGKs5YLAM+v7eGyQ9V+n",
    "dist/assets/diagram-js.css": "sha384-AWPGaNcjP5js21rXUd/M+PvbIelMmHlfQIYLIhp5MnZOK4mc4jwjwC6p5PZfoIjW",
    "dist/assets/bpmn-js.css": "sha384-/nphkprXqZZHJ+7ep/MfvLJ9NR1E5ZoJX0faaFpWvQxq0RFnm0LPXBXOQVjAw5aO",
}.items()}
DMN_JS_FILES = {path: (f"{_DMN_JS}/{path}", sri) for path, sri in {  # the decision table editor only
    "dist/dmn-modeler.production.min.js": "sha384-Wq8S6as7wyYptQtXh1NWoCna8D6ZG8wNYiUS3/c0B4x8oY7Ncj2BAEGDR7D8tctR",
    "dist/assets/dmn-js-shared.css": "sha384-isv0wOGopGsPwmmbngwPeqDxcLVFa1Cab4oJskBlYuKgMQNk5PMHEdPvuDSJVRjr",
    "dist/assets/dmn-js-decision-table.css": "sha384-W0CzFQY0tEuPBRkkqVvhVD2uR0jE0zKPkMHNZ8SHBNlD6sxPqIEh0Y+gAC+ZJo5H",
    "dist/assets/dmn-js-decision-table-controls.css":
        "sha384-TqazKcHkSzJ2LjkVtn2BBsNJGEY7p+m99vPNJvV43N/WLEs6PMQmrENgqGEmcpkl",
    # the icon font inside the stylesheet (data: URLs), so the SRI of the CSS covers it too
    "dist/assets/dmn-font/css/dmn-embedded.css":
        "sha384-qvPq4nOKBdksHLoREBrMOND2rduZYXlDSVM8kW17RuVVacAF+OeHVLV2mIhFgwAF",
}.items()}
# The stylesheet also names the icon font as a file for old browsers: Chrome checks it against the
# policy (an error if refused) and then uses the embedded one, downloading nothing.
DMN_JS_FONT_FILE = "dist/assets/dmn-font/font/dmn.eot"
# Map tiles: OpenStreetMap's by default (its tile usage policy allows light use with the
# attribution); an air-gapped city points TANGGAP_TILE_URL at its own tile server.
TILE_URL = "https://tile.openstreetmap.org/{z}/{x}/{y}.png"
TILE_ATTRIBUTION = "© OpenStreetMap contributors"


# what a URL may not hold once it is written into the content security policy: a space or a
# comma starts another source, a semicolon another directive, quotes a keyword
_UNSAFE = re.compile(r"[\s;,'\"]")


def checked_url(name: str, value: str) -> str:
    """``value`` of the setting ``name``: an http(s) URL or a path on this site, with nothing the
    content security policy would read as more than one source."""
    parts = urlsplit(value)
    absolute = parts.scheme in ("http", "https") and parts.netloc
    local = not parts.scheme and not parts.netloc and value.startswith("/")
    if not (absolute or local) or _UNSAFE.search(value) or parts.fragment:
        raise ValueError(f"{name} must be an http(s) URL or a path on this site starting with /, "
                         f"without spaces, commas, semicolons, quotes or #: {value!r}")
    return value


def htmx_url(configured: str | None) -> str:
    """Where pages load htmx from: ``TANGGAP_HTMX_URL`` (a copy of the pinned file) or the CDN."""
    return checked_url("TANGGAP_HTMX_URL", configured) if configured else HTMX_URL


def leaflet_files(base: str | None) -> dict[str, tuple[str, str]]:
    """The five Leaflet files' URLs (from ``base`` when self-hosted) with their SRI hashes."""
    if not base:
        return dict(LEAFLET_FILES)
    checked_url("TANGGAP_LEAFLET_BASE", base)
    return {name: (f"{base.rstrip('/')}/{name}", sri) for name, (_url, sri) in LEAFLET_FILES.items()}


def bpmn_js_files(base: str | None) -> dict[str, tuple[str, str]]:
    """bpmn-js's files (from ``base`` when self-hosted) with their SRI hashes."""
    return _package_files("TANGGAP_BPMN_JS_BASE", BPMN_JS_FILES, base)


def dmn_js_files(base: str | None) -> dict[str, tuple[str, str]]:
    """dmn-js's files (from ``base`` when self-hosted) with their SRI hashes."""
    return _package_files("TANGGAP_DMN_JS_BASE", DMN_JS_FILES, base)


def _package_files(setting: str, files: dict[str, tuple[str, str]], base: str | None) -> dict[str, tuple[str, str]]:
    if not base:
        return dict(files)
    checked_url(setting, base)
    return {path: (f"{base.rstrip('/')}/{path}", sri) for path, (_url, sri) in files.items()}


def dmn_js_fonts(files: dict[str, tuple[str, str]]) -> tuple[str, ...]:
    """The font sources dmn-js's stylesheet names, for ``files`` (the CDN's or a copy's)."""
    css = files["dist/assets/dmn-font/css/dmn-embedded.css"][0]
    return ("data:", css[:-len("dist/assets/dmn-font/css/dmn-embedded.css")] + DMN_JS_FONT_FILE)
