// The routing table of /admin/processes/routing in dmn-js's decision table editor. Without
// dmn-js (the CDN unreachable, no JavaScript) the form's XML field is the editor and the page
// works as a plain form. With it, the table is edited in place and its XML is written into the
// field just before the form is sent; "Edit as XML" switches to the field and back.
(function () {
  "use strict";
  var form = document.getElementById("routing-form");
  if (!form || !window.DmnJS) return;
  var source = document.getElementById("xml");
  var holder = document.getElementById("routing-modeler");
  var canvas = document.getElementById("routing-canvas");
  var toggle = document.getElementById("routing-mode");
  var toolbar = document.getElementById("routing-toolbar");
  var status = document.getElementById("routing-editor-status");
  var field = source.closest(".field");
  var plain = [field.querySelector("label"), source, field.querySelector(".hint")].filter(Boolean);
  var invalid = source.getAttribute("aria-invalid") === "true";
  var describedBy = source.getAttribute("aria-describedby");
  var modeler = new window.DmnJS({ container: canvas });
  var mode = "xml";

  function say(text) {
    status.textContent = text || "";
    status.hidden = !text;
  }

  // the field's errors name whichever editor is shown, and that editor takes the focus
  function markInvalid(shown, hidden) {
    if (!invalid) return;
    hidden.removeAttribute("aria-invalid");
    hidden.removeAttribute("aria-describedby");
    shown.setAttribute("aria-invalid", "true");
    if (describedBy) shown.setAttribute("aria-describedby", describedBy);
    shown.focus();
  }

  function showTable() {
    return modeler.importXML(source.value).then(function () {
      var view = modeler.getViews().filter(function (v) { return v.type === "decisionTable"; })[0];
      if (!view) throw new Error("no decision table");
      return modeler.open(view);
    }).then(function () {
      // the column of rule numbers has an empty header: name it (screen readers, axe)
      var numbers = canvas.querySelector("th.index-column");
      if (numbers && !numbers.textContent.trim()) {
        var label = document.createElement("span");
        label.className = "rule-number-label";
        label.textContent = form.dataset.ruleNumber;
        numbers.appendChild(label);
      }
      holder.hidden = false;
      plain.forEach(function (el) { el.hidden = true; });
      toggle.textContent = form.dataset.asXml;
      mode = "table";
      say("");
      markInvalid(canvas, source);
    });
  }

  function showXml() {
    return modeler.saveXML({ format: true }).then(function (result) {
      source.value = result.xml;
      holder.hidden = true;
      plain.forEach(function (el) { el.hidden = false; });
      toggle.textContent = form.dataset.asTable;
      mode = "xml";
      markInvalid(source, canvas);
    });
  }

  toolbar.hidden = false;
  toggle.addEventListener("click", function () {
    if (mode === "table") {
      showXml().catch(function () { say(form.dataset.unsaved); });
    } else {
      showTable().catch(function () { say(form.dataset.unreadable); });
    }
  });

  form.addEventListener("submit", function (event) {
    if (mode !== "table") return;  // the field holds what is sent
    event.preventDefault();
    modeler.saveXML({ format: true }).then(function (result) {
      source.value = result.xml;
      form.dataset.sending = "true";
      form.submit();
    }, function () { say(form.dataset.unsaved); });
  });

  showTable().catch(function () {
    // XML that is not a decision table dmn-js can read (a refused deployment comes back as
    // it was sent): the field stays the editor
    toggle.textContent = form.dataset.asTable;
    say(form.dataset.unreadable);
    if (invalid) source.focus();
  });
})();
