// The field view (and a QR officer's task page): asks the service worker to keep copies for no
// signal, says when a page is such a copy, and shows how far each task is when the officer asks
// (the location stays in the phone: nothing is sent).
(function () {
  "use strict";
  // Offline copies (field-sw.js): this page, each task on it and its photos, for this officer.
  var list = document.getElementById("field-cards");
  if ("serviceWorker" in navigator) {
    navigator.serviceWorker.register("/sw.js").then(function () { return navigator.serviceWorker.ready; })
      .then(function (registration) {
        if (!list || !registration.active) return;
        var urls = [window.location.pathname];
        Array.prototype.forEach.call(document.querySelectorAll('script[src^="/static/"], link[href^="/static/"]'),
          function (e) { urls.push(new URL(e.src || e.href).pathname); });  // this site's own files
        Array.prototype.forEach.call(list.querySelectorAll(".task-card"), function (card) {
          urls.push(card.getAttribute("data-task"));
          (card.getAttribute("data-photos") || "").split(" ").forEach(function (p) { if (p) urls.push(p); });
        });
        registration.active.postMessage({ type: "keep", user: list.getAttribute("data-user"), urls: urls });
      }).catch(function () { /* no offline copies: the page works as before */ });
  }
  var offline = document.getElementById("offline-copy");
  if (offline && !navigator.onLine) offline.hidden = false;
  var button = document.getElementById("show-distance");
  var status = document.getElementById("distance-status");
  if (!button || !("geolocation" in navigator)) return;
  button.hidden = false;
  function km(a, b, c, d) {
    var r = Math.PI / 180, h = Math.pow(Math.sin((c - a) * r / 2), 2) +
      Math.cos(a * r) * Math.cos(c * r) * Math.pow(Math.sin((d - b) * r / 2), 2);
    return 2 * 6371 * Math.asin(Math.sqrt(h));
  }
  button.addEventListener("click", function () {
    if (status) status.textContent = button.getAttribute("data-locating") || "";
    navigator.geolocation.getCurrentPosition(function (pos) {
      var cards = Array.prototype.slice.call(document.querySelectorAll(".task-card"));
      cards.forEach(function (card) {
        var d = km(pos.coords.latitude, pos.coords.longitude, +card.dataset.lat, +card.dataset.lon);
        var out = card.querySelector(".distance");
        out.textContent = " · " + (d < 1 ? Math.round(d * 1000) + " m" : d.toFixed(1).replace(".", ",") + " km");
        out.hidden = false;
      });
      if (status) status.textContent = "";
    }, function () { if (status) status.textContent = button.getAttribute("data-failed") || ""; },
    { enableHighAccuracy: true, timeout: 15000, maximumAge: 60000 });
  });
})();
