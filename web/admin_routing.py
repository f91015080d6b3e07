"""The routing table edited in the browser (dmn-js) and deployed as a new process version, and
any version's diagram (bpmn-js, with the server's own drawing when the script cannot load) with
its files to download.

Both pages work without their library: the routing table is then its XML in a text field, the
diagram the SVG of ``web/diagram.py``. Only these pages allow the library's pinned files in
their content security policy.
"""

from __future__ import annotations

import io
import xml.etree.ElementTree as ET

from flask import (
    Blueprint,
    abort,
    current_app,
    flash,
    make_response,
    redirect,
    render_template,
    request,
    send_file,
    url_for,
)
from flask_babel import format_decimal, get_locale, ngettext
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from wtforms import HiddenField, TextAreaField
from wtforms.validators import InputRequired
from wtforms.validators import ValidationError as FieldError

from workflow.access import Screen
from workflow.commands import processes
from workflow.engine.checks import MAX_FILE
from workflow.errors import Conflict, ValidationError
from workflow.read.process_files import ROUTING_FILE, current_routing, routing_codes, version_files

from . import diagram as server_diagram
from . import vendor
from .admin import section
from .forms import Form
from .helpers import actor, add_error, add_errors, only_for, run_command, services, whole_number
from .i18n import tr
from .security import policy_for

bp = Blueprint("admin_routing", __name__, url_prefix="/admin/processes")
only_for(bp, Screen.ADMIN)

section("admin_routing.editor", _l("Routing table"),
        _l("Which OPD receives each category, with the priority and SLA targets; changes apply to new cases"),
        order=40)

VERSION = "int(max=2147483647)"  # a version number the database can hold; beyond it, 404
KINDS = {".bpmn": "text/xml", ".dmn": "text/xml", ".yaml": "text/yaml"}  # sent with charset=utf-8


def _at_most_max_file(form, field) -> None:
    if field.data and len(field.data) > MAX_FILE:
        size = format_decimal(len(field.data) / 1024 / 1024, format="#,##0.0")
        raise FieldError(_("The routing table may be at most %(limit)s MB; this one is %(size)s MB.",
                           limit=MAX_FILE // 1024 // 1024, size=size))


class RoutingForm(Form):
    xml = TextAreaField(_l("Routing table (DMN XML)"), validators=[InputRequired(), _at_most_max_file],
                        render_kw={"rows": 18, "spellcheck": "false", "autocomplete": "off", "translate": "no",
                                   "class": "xml-source"})
    note = TextAreaField(_l("What changes, in your words (kept with the version)"),
                         render_kw={"maxlength": processes.NOTE_MAX, "rows": 2})
    based_on = HiddenField()  # the version current when the page was opened


def _with_policy(body: str, status: int, files: dict, **allowed):
    """The page, with the pinned files of its library allowed by its policy."""
    response = make_response(body, status)
    response.headers["Content-Security-Policy"] = policy_for(current_app, files, **allowed)
    return response


@bp.route("/routing", methods=["GET", "POST"])
def editor():
    svc = services()
    with svc.reading() as session:
        routing = current_routing(session, svc.versions)
        codes = routing_codes(session)
    if request.method == "GET":
        return _editor_page(RoutingForm(formdata=None, data={"xml": routing.xml, "based_on": routing.version}),
                            routing, codes)
    form = RoutingForm()
    problems: list[str] = []
    if form.validate_on_submit():
        # a text field comes back with CRLF line ends (HTML forms send them so): the file's are LF
        xml = form.xml.data.replace("\r\n", "\n")
        try:
            done = run_command(processes.deploy_process, actor(), {ROUTING_FILE: xml},
                               note=form.note.data or "", client_ip=request.remote_addr,
                               based_on=whole_number(form.based_on.data))
        except processes.DeployRefused as exc:
            problems = exc.problems
            add_error(form, "xml", ngettext("The table was not deployed: %(num)s problem, listed above.",
                                            "The table was not deployed: %(num)s problems, listed above.",
                                            len(problems)))
        except ValidationError as exc:
            add_errors(form, exc.errors, fallback="xml")
        except Conflict as exc:  # another version came first: shown; sent again, this table replaces it
            add_error(form, "xml", tr(exc.message))
            form.based_on.data = routing.version
            return _editor_page(form, routing, codes, status=409)
        else:
            if done.again:
                flash(_("Version %(version)s deployed again: new cases start on it.", version=done.version))
            else:
                flash(_("Version %(version)s deployed: new cases start on it.", version=done.version))
            return redirect(url_for("admin_process.versions"))
    return _editor_page(form, routing, codes, problems, 400)


def _editor_page(form: RoutingForm, routing, codes, problems: list[str] | None = None, status: int = 200):
    """dmn-js writes styles of its own into the page: its cell editor (CodeMirror) a <style>
    element whose rules grow as its features load, its bpmn.io logo (which its licence keeps on
    the page) style attributes. This page's policy allows inline styles for them, never scripts."""
    definition = services().definition
    priorities = {code: definition.priority_label(code, str(get_locale())) for code in definition.priorities}
    return _with_policy(render_template("admin/routing.html", form=form, routing=routing, codes=codes,
                                        priorities=priorities, problems=problems or [],
                                        english=str(get_locale()) == "en"),
                        status, current_app.config["DMN_JS"],
                        fonts=vendor.dmn_js_fonts(current_app.config["DMN_JS"]), inline_styles=True)


def _drawable(bpmn_xml: str) -> bool:
    """Whether the file has the diagram interchange (shapes and their places) to draw from."""
    try:
        root = ET.fromstring(bpmn_xml.encode("utf-8"))
    except ET.ParseError:
        return False
    return root.find(".//bpmndi:BPMNPlane", server_diagram.NS) is not None


@bp.get(f"/<{VERSION}:version>/diagram", endpoint="diagram")
def show_diagram(version: int):
    svc = services()
    with svc.reading() as session:
        files = version_files(session, svc.versions, version)
    if files is None:
        abort(404)
    shown = request.args.get("file") or files.main_bpmn
    if shown not in files.source or not shown.endswith(".bpmn"):
        abort(404)
    locale = str(get_locale())
    steps = [t.text(locale) for t in sorted(files.definition.tasks.values(), key=lambda t: t.order) if not t.side]
    svg = None
    if _drawable(files.source[shown]):
        svg = server_diagram.render(files.source[shown], described_by="diagram-steps",
                                    title=_("Diagram of process version %(version)s", version=version))
    sizes = {name: format_decimal(len(text.encode("utf-8")) / 1024, format="#,##0.0")
             for name, text in files.source.items()}
    return _with_policy(render_template("admin/diagram.html", files=files, shown=shown, svg=svg, steps=steps,
                                        sizes=sizes, downloadable={n for n in files.source if _kind(n)}),
                        200, current_app.config["BPMN_JS"])


def _kind(name: str) -> str | None:
    """The media type a file of a version is downloaded as (None: not a file a version holds)."""
    return KINDS.get("." + name.rsplit(".", 1)[-1]) if "." in name else None


@bp.get(f"/<{VERSION}:version>/files/<name>", endpoint="diagram_file")
def download(version: int, name: str):
    """One file of a version, always as a download (never shown as a page of this site)."""
    svc = services()
    with svc.reading() as session:
        files = version_files(session, svc.versions, version)
    if files is None or name not in files.source or _kind(name) is None:
        abort(404)
    response = send_file(io.BytesIO(files.source[name].encode("utf-8")), mimetype=_kind(name),
                         as_attachment=True, download_name=name, max_age=0)
    response.headers["Cache-Control"] = "private, no-store"
    response.headers["Content-Security-Policy"] = "default-src 'none'; sandbox"
    return response
