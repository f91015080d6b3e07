// The escalation list refreshes itself every 30 s (htmx). While a supervisor has ticked tasks or
// typed a reason in the bulk form under it, the refresh waits: it would throw their work away.
(function () {
  "use strict";
  function busy() {
    var form = document.getElementById("bulk-form");
    if (!form) return false;
    if (form.querySelector("input[name=row]:checked")) return true;
    var reason = form.querySelector("textarea");
    return Boolean(reason && reason.value.trim());
  }
  document.addEventListener("htmx:beforeRequest", function (event) {
    var list = document.getElementById("escalations");
    if (list && event.detail.elt === list && busy()) event.preventDefault();
  });
})();
