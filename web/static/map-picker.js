// The map picker of /lapor. Without JavaScript, or when Leaflet cannot be loaded, the form's
// own fields (kecamatan, kelurahan, address, coordinates) are the whole form; this script only
// fills them. The server decides the area of a point (/lapor/titik), never this script.
(function () {
  "use strict";
  var holder = document.getElementById("map-picker");
  if (!holder) return;
  var cfg = JSON.parse(holder.getAttribute("data-config"));
  var lat = document.getElementById("lat");
  var lon = document.getElementById("lon");
  var area = document.getElementById("area");
  var kelurahan = document.getElementById("kelurahan");
  var status = document.getElementById("map-status");
  var mine = document.getElementById("use-my-location");
  var pendingKelurahan = null;
  var map = null;
  var marker = null;

  function say(text) { if (status) status.textContent = text; }
  function format(template, values) {
    return template.replace(/%\((\w+)\)s/g, function (_m, key) { return values[key] || ""; });
  }
  function changed(input) { input.dispatchEvent(new Event("change", { bubbles: true })); }

  // htmx replaces the kelurahan options when the kecamatan changes: choose the pinned one after.
  document.body.addEventListener("htmx:afterSwap", function (event) {
    if (event.target === kelurahan && pendingKelurahan) {
      kelurahan.value = pendingKelurahan;
      pendingKelurahan = null;
    }
  });

  function setArea(info) {
    if (area.value !== info.area) {
      pendingKelurahan = info.kelurahan;
      area.value = info.area;
      changed(area);
    } else if (info.kelurahan) {
      kelurahan.value = info.kelurahan;
    }
    say(info.kelurahan_name ? format(cfg.labels["in"], { kecamatan: info.area_name, kelurahan: info.kelurahan_name })
                            : format(cfg.labels.in_kecamatan, { kecamatan: info.area_name }));
  }

  function showPin(la, lo) {
    if (!map) return;
    if (!marker) {
      marker = L.marker([la, lo], {
        draggable: true, autoPan: true, title: cfg.labels.pin, alt: cfg.labels.pin,
        icon: L.divIcon({ className: "map-pin", iconSize: [26, 26], iconAnchor: [13, 26] })
      }).addTo(map);
      marker.on("dragend", function () { var p = marker.getLatLng(); pick(p.lat, p.lng, false); });
    } else {
      marker.setLatLng([la, lo]);
    }
  }

  // A point chosen on the map or by the phone: into the fields, then asked of the server.
  function pick(la, lo, move) {
    lat.value = la.toFixed(6);
    lon.value = lo.toFixed(6);
    showPin(la, lo);
    if (move && map) map.setView([la, lo], Math.max(map.getZoom(), 17));
    ask(lat.value, lon.value);
    changed(lat);
  }

  // Typed or pasted coordinates (a decimal comma, a pair, a map link): the server reads them.
  function ask(a, b) {
    var url = cfg.locate + "?lat=" + encodeURIComponent(a) + "&lon=" + encodeURIComponent(b);
    return fetch(url, { headers: { "Accept": "application/json" } }).then(function (r) { return r.json(); })
      .then(function (info) {
        if (info.error) { say(info.error); return; }
        showPin(info.lat, info.lon);
        setArea(info);
      }).catch(function () { /* offline: the fields are still sent as typed */ });
  }

  [lat, lon].forEach(function (input) {
    input.addEventListener("change", function (event) {
      if (event.isTrusted && lat.value) ask(lat.value, lon.value).then(function () {
        if (map && marker) map.setView(marker.getLatLng(), Math.max(map.getZoom(), 16));
      });
    });
  });

  if (mine && "geolocation" in navigator) {
    mine.hidden = false;
    mine.addEventListener("click", function () {
      say(cfg.labels.locating);
      navigator.geolocation.getCurrentPosition(function (pos) {
        pick(pos.coords.latitude, pos.coords.longitude, true);
      }, function () { say(cfg.labels.no_location); }, { enableHighAccuracy: true, timeout: 15000, maximumAge: 60000 });
    });
  }

  if (!window.L || !cfg.centre) return;  // Leaflet unreachable: the fields (and "my location") remain
  holder.hidden = false;
  map = L.map(holder.querySelector(".map"), { tap: true }).setView(cfg.centre, 12);
  L.tileLayer(cfg.tiles, { maxZoom: 19, attribution: cfg.attribution }).addTo(map);
  map.on("click", function (event) { pick(event.latlng.lat, event.latlng.lng, false); });
  document.getElementById("pin-centre").addEventListener("click", function () {
    var c = map.getCenter();
    pick(c.lat, c.lng, false);
  });
  if (lat.value) ask(lat.value, lon.value).then(function () { if (marker) map.setView(marker.getLatLng(), 16); });

  var search = document.getElementById("area-search");
  search.addEventListener("change", function () {
    var wanted = search.value.trim().toLowerCase();
    if (!wanted) return;
    var found = cfg.areas.filter(function (a) { return a.label.toLowerCase() === wanted; })[0] ||
                cfg.areas.filter(function (a) { return a.label.toLowerCase().indexOf(wanted) === 0; })[0] ||
                cfg.areas.filter(function (a) { return a.label.toLowerCase().indexOf(wanted) >= 0; })[0];
    if (!found) { say(cfg.labels.not_found); return; }
    map.setView([found.lat, found.lon], found.zoom);
    say(found.label);
  });
})();
