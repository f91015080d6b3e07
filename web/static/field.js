// The field view (and a QR officer's task page): asks the service worker to keep copies for no
// signal, says when a page is such a copy, sends the forms filled in without signal once the
// network is back (and lists those still waiting or refused, with what was entered), and shows how
// far each task is when the officer asks (the location stays in the phone: nothing is sent).
(function () {
  "use strict";
  sendWaiting();
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
  if (offline && document.body.hasAttribute("data-copy")) offline.hidden = false;  // served from the phone
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

// -- forms filled in without signal (field-queue.js) -----------------------------------------------

function sendWaiting() {
  "use strict";
  var queue = self.tanggapQueue, box = document.getElementById("queued");
  if (!queue || !("indexedDB" in self) || !box) return;
  var me = box.getAttribute("data-user"), username = box.getAttribute("data-username");
  var say = function (key) { return box.getAttribute("data-" + key) || ""; };
  var status = document.getElementById("queued-status");
  var SENDING = { "X-Tanggap-Queue": "send" };  // the service worker passes these on as they are
  var TRIES = 5;  // answers of a busy or broken server before a form is shown as refused
  var MOMENT = /^\d{4}-\d\d-\d\dT\d\d:\d\d$/;
  var retry = null, shown = [];

  function ours(entry) { return !!me && entry.user != null && String(entry.user) === me; }

  function read(html) {  // what the server said: the form's errors or an error page's message, and the task form
    var doc = new DOMParser().parseFromString(html, "text/html"), out = [];
    Array.prototype.forEach.call(doc.querySelectorAll("main [role=alert]"), function (e) {
      var t = (e.querySelector("p") || e).textContent.trim();
      if (t && out.indexOf(t) < 0) out.push(t);
    });
    return { message: out.join(" "), form: doc.getElementById("task-form") };
  }

  function freshToken() {  // the form's CSRF token may be of an earlier session: ask for this one's
    return fetch("/lapangan/token", { credentials: "same-origin", headers: SENDING }).then(function (r) {
      if (new URL(r.url).pathname === "/login") throw { login: true };
      if (!r.ok) throw { later: true };
      return r.json();
    }, function () { throw { offline: true }; }).then(function (body) {
      if (!body || !body.csrf_token) throw { later: true };
      return body.csrf_token;
    });
  }

  function answered(entry, r) {
    var path = new URL(r.url).pathname;
    if (path === "/login") {
      return queue.update(entry.id, { state: "waiting" }).then(function () { throw { login: true }; });
    }
    if (r.redirected) return queue.remove(entry.id).then(function () { return "sent"; });  // done: on to the next page
    return r.text().then(function (html) {
      var said = read(html), tries = (entry.tries || 0) + 1;
      if (r.status === 429 || r.status >= 500) {  // busy or down: later, as it was (a few times)
        if (tries < TRIES) {
          return queue.update(entry.id, { state: "waiting", tries: tries }).then(function () { throw { later: true }; });
        }
        return queue.update(entry.id, { state: "refused", status: r.status, message: said.message, tries: tries });
      }
      var form = said.form;
      if (form && form.getAttribute("data-done-by") === username) {  // an earlier try had reached the server
        return queue.remove(entry.id).then(function () { return "sent"; });
      }
      if (r.status === 409 && form && form.getAttribute("data-workable") === "yes") {
        // the case changed (a note, an escalation) but the task is still the officer's: their call
        var version = form.querySelector('input[name="version"]');
        return queue.update(entry.id, { state: "changed", status: r.status, message: said.message,
                                        version: version ? version.value : null });
      }
      var state = [403, 404, 409].indexOf(r.status) >= 0 ? "conflict" : "refused";
      return queue.update(entry.id, { state: state, status: r.status, message: said.message });
    });
  }

  function sendOne(entry, token) {
    var body = new FormData();
    entry.fields.forEach(function (f) {
      if (f[0] === "csrf_token") return;
      if (typeof f[1] === "string") body.append(f[0], f[1]); else body.append(f[0], f[1], f[1].name);
    });
    body.append("csrf_token", token);
    return queue.update(entry.id, { state: "sending" }).then(function () {
      return fetch(entry.url, { method: "POST", body: body, credentials: "same-origin", headers: SENDING });
    }).then(function (r) { return answered(entry, r); }, function () {
      return queue.update(entry.id, { state: "waiting" }).then(function () { throw { offline: true }; });
    });
  }

  function sendAll() {
    if (!navigator.onLine) return show();
    var copy = document.getElementById("offline-copy");
    if (copy) copy.hidden = true;  // signal again: what the page said about having none is over
    if (status && status.textContent === say("kept")) status.textContent = "";
    return queue.all().then(function (entries) {
      var waiting = entries.filter(function (e) { return ours(e) && (e.state === "waiting" || e.state === "sending"); });
      if (!waiting.length) return show();
      return freshToken().then(function (token) {
        var sent = 0;
        return waiting.reduce(function (chain, entry) {  // one after the other, each once
          return chain.then(function () { return sendOne(entry, token); })
            .then(function (done) { if (done === "sent") sent += 1; });
        }, Promise.resolve()).then(function () {
          if (sent && status) status.textContent = say("sent").replace("{count}", sent);
        });
      }).catch(function (stop) {
        if (stop && stop.login && status) status.textContent = say("login");
        if (stop && (stop.later || stop.offline) && !retry) {  // an "online" event may not come: again in a minute
          retry = window.setTimeout(function () { retry = null; locked(); }, 60000);
        }
      }).then(show);
    });
  }

  function locked() {  // two tabs, or "online" and a page load at once: still each form once
    if (navigator.locks) return navigator.locks.request("tanggap-field-send", sendAll);
    return sendAll();
  }

  function show() {
    return queue.all().then(function (entries) {
      entries = entries.filter(ours);
      shown.forEach(function (u) { URL.revokeObjectURL(u); });
      shown = [];
      var list = document.getElementById("queued-list");
      list.textContent = "";
      box.hidden = entries.length === 0;
      entries.forEach(function (entry) { list.appendChild(item(entry)); });
      if (entries.length && navigator.storage && navigator.storage.persist) {  // kept forms: not to be evicted
        navigator.storage.persist().catch(function () {});
      }
    });
  }

  function el(tag, cls, content) {
    var e = document.createElement(tag);
    if (cls) e.className = cls;
    if (content) e.textContent = content;
    return e;
  }

  function button(label, cls, title, act) {
    var b = el("button", cls, label);
    b.type = "button";
    b.setAttribute("aria-describedby", title);
    b.addEventListener("click", act);
    return b;
  }

  function item(entry) {
    var li = el("li", "card queued-entry"), title = "queued-" + entry.id;
    var waiting = entry.state === "waiting" || entry.state === "sending";
    li.setAttribute("data-state", entry.state);
    var h = el("h3", null, entry.title);
    h.id = title;
    li.appendChild(h);
    li.appendChild(el("p", waiting ? "muted" : "error",
                      say(waiting ? "waiting" : entry.state) + (entry.message ? " " + entry.message : "")));
    var facts = el("dl", "facts"), photos = el("div", "photos"), count = {};
    entry.fields.forEach(function (f) {
      if (f[0] === "csrf_token" || f[0] === "version") return;
      var label = entry.labels[f[0]] || f[0];
      if (typeof f[1] === "string") {
        if (!f[1]) return;
        facts.appendChild(el("dt", null, label));
        facts.appendChild(el("dd", null, MOMENT.test(f[1]) ? f[1].replace("T", " ") : f[1]));
      } else {
        count[f[0]] = (count[f[0]] || 0) + 1;
        var figure = el("figure"), img = el("img"), url = URL.createObjectURL(f[1]);
        shown.push(url);
        img.src = url;
        img.alt = label + " " + count[f[0]];
        figure.appendChild(img);
        figure.appendChild(el("figcaption", null, label + " " + count[f[0]]));
        photos.appendChild(figure);
      }
    });
    if (facts.childNodes.length) li.appendChild(facts);
    if (photos.childNodes.length) li.appendChild(photos);
    var actions = el("p", "card-actions");
    var open = el("a", "button secondary", say("open"));
    open.href = entry.url;
    open.setAttribute("aria-describedby", title);
    actions.appendChild(open);
    if (entry.state === "refused" || entry.state === "changed") {
      actions.appendChild(button(say("again"), null, title, function () {
        var fields = entry.fields.map(function (f) {  // "changed": sent on the case as it is now
          return f[0] === "version" && entry.version ? [f[0], entry.version] : f;
        });
        queue.update(entry.id, { state: "waiting", message: "", tries: 0, fields: fields }).then(locked);
      }));
    }
    actions.appendChild(button(say("drop"), "secondary", title, function () {
      if (window.confirm(say("drop-confirm"))) queue.remove(entry.id).then(show);
    }));
    li.appendChild(actions);
    return li;
  }

  var logout = document.querySelector('form[action="/logout"]');
  if (logout) {
    logout.addEventListener("submit", function (event) {  // logging out here deletes what still waits: ask first
      event.preventDefault();
      queue.all().then(function (entries) { return entries.filter(ours).length; }, function () { return 0; })
        .then(function (waiting) {
          if (waiting && !window.confirm(say("logout-confirm"))) return;
          var forget = document.createElement("input");
          forget.type = "hidden";
          forget.name = "queue_forget";
          forget.value = me;
          logout.appendChild(forget);
          logout.submit();
        });
    });
  }
  refreshArrival();
  if (/[?&]antre=1/.test(window.location.search) && status) status.textContent = say("kept");
  window.addEventListener("online", locked);
  locked();
}

function refreshArrival() {
  // A task page kept on the phone was filled in with the time it was kept: opened from the phone
  // later, "when did you arrive" is now (in the city's time), unless the officer changed it.
  "use strict";
  var form = document.getElementById("task-form");
  if (!document.body.hasAttribute("data-copy") || !form || form.getAttribute("data-prefilled") !== "yes") return;
  var city = new Date(Date.now() + Number(form.getAttribute("data-offset")) * 60 * 1000);
  var pad = function (n) { return (n < 10 ? "0" : "") + n; };
  var now = city.getUTCFullYear() + "-" + pad(city.getUTCMonth() + 1) + "-" + pad(city.getUTCDate()) + "T" +
    pad(city.getUTCHours()) + ":" + pad(city.getUTCMinutes());
  Array.prototype.forEach.call(form.querySelectorAll("input[data-now]"), function (input) {
    if (input.value === input.defaultValue) input.value = now;
  });
}
