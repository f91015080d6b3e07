// A process version's diagram in bpmn-js's navigated viewer (zoom and pan), from the version's
// own .bpmn file. Without bpmn-js, or when it cannot draw the file, the server's drawing stays.
(function () {
  "use strict";
  var holder = document.getElementById("process-diagram");
  if (!holder || !window.BpmnJS || !window.fetch) return;
  var container = document.getElementById("bpmn-canvas");
  var fallback = document.getElementById("diagram-fallback");
  var toolbar = document.getElementById("diagram-toolbar");
  var status = document.getElementById("diagram-status");
  container.hidden = false;  // drawn at its size: fitting the diagram needs it shown
  var viewer = new window.BpmnJS({ container: container });

  fetch(holder.dataset.source, { credentials: "same-origin" }).then(function (response) {
    if (!response.ok) throw new Error("HTTP " + response.status);
    return response.text();
  }).then(function (xml) {
    return viewer.importXML(xml);
  }).then(function () {
    viewer.get("canvas").zoom("fit-viewport", "auto");
    fallback.hidden = true;
    toolbar.hidden = false;
    holder.dataset.drawn = "bpmn-js";
  }).catch(function () {
    viewer.destroy();
    container.hidden = true;
    status.textContent = holder.dataset.unreadable;
    status.hidden = false;
  });

  toolbar.addEventListener("click", function (event) {
    var button = event.target.closest("[data-zoom]");
    if (!button) return;
    var zoom = button.dataset.zoom;
    if (zoom === "fit") viewer.get("canvas").zoom("fit-viewport", "auto");
    else viewer.get("zoomScroll").stepZoom(zoom === "in" ? 1 : -1);
  });
})();
