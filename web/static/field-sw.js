// The field view's service worker (served as /sw.js, scope /). It keeps, per officer, a copy of
// the field view, of the task pages listed on it and of their photos, so that a phone without
// signal still shows the day's work; pages are always asked of the network first. A task form
// that cannot be sent (no signal, or the server answers 503) is kept in the phone with its
// photos (field-queue.js) and the officer lands on the field view, which sends it once the
// network is back. Logging out deletes every copy, and the forms still waiting once the officer
// agreed to it; the login page (the session is over) deletes the copies, but not work that is
// still to be sent. A page the server cannot serve (5xx) is answered with its copy too.
"use strict";

importScripts("/static/field-queue.js");

var PREFIX = "tanggap-field-";
var KEPT = /^\/(lapangan|tasks\/\d+|cases\/attachments\/\d+|static\/[\w.\/-]+)$/;
var TASK_FORM = /^\/tasks\/\d+$/;
var SENDING = "X-Tanggap-Queue";  // the field view sending a waiting form: never put back in the queue

function purge() {
  return caches.keys().then(function (names) {
    return Promise.all(names.filter(function (n) { return n.indexOf(PREFIX) === 0; })
      .map(function (n) { return caches.delete(n); }));
  });
}

function text(html) {  // the text of an HTML fragment (the page's own, escaped by the server)
  return html.replace(/<[^>]*>/g, "").replace(/&#39;/g, "'").replace(/&quot;/g, '"').replace(/&lt;/g, "<")
    .replace(/&gt;/g, ">").replace(/&amp;/g, "&").replace(/\s+/g, " ").trim();
}

var OWNER = "queue_owner";  // a QR officer's task form names its officer: only such forms are kept

function page(status, title, body, link) {  // a page of its own, for when nothing else can be shown
  var html = '<!doctype html><html lang="id"><head><meta charset="utf-8"><meta name="viewport" ' +
    'content="width=device-width, initial-scale=1"><title>' + title + '</title>' +
    '<link rel="stylesheet" href="/static/tanggap.css"></head><body><main><h1>' + title + '</h1><p>' + body +
    '</p>' + (link ? '<p><a class="button" href="/lapangan">Lapangan</a></p>' : "") + "</main></body></html>";
  return new Response(html, { status: status, headers: { "Content-Type": "text/html; charset=utf-8" } });
}

function keep(request, path, failed) {
  // What the officer filled in, and from the kept copy of the task page its title and the
  // fields' labels, to show on the field view while the form waits. ``failed``: what to answer
  // when the form is not one to keep (not a QR officer's): what the network said.
  return Promise.all([request.formData(), caches.match(path).then(function (kept) {
    return kept ? kept.text() : "";
  })]).then(function (got) {
    var form = got[0], html = got[1], labels = {}, found;
    if (!form.get(OWNER)) return failed();
    var pattern = /<label for="([\w-]+)">([\s\S]*?)<\/label>/g;
    while ((found = pattern.exec(html)) !== null) labels[found[1]] = text(found[2]);
    var title = /<h1>([\s\S]*?)<\/h1>/.exec(html);
    var fields = [];
    form.forEach(function (value, name) {
      if (name === OWNER || (typeof value !== "string" && !value.size)) return;  // a photo field left empty
      fields.push([name, value]);
    });
    return self.tanggapQueue.replace({ user: String(form.get(OWNER)), url: path, labels: labels, fields: fields,
                                       title: title ? text(title[1]) : path, queued_at: new Date().toISOString() })
      .then(function () { return caches.match("/lapangan"); })
      .then(function (view) {
        if (view) return Response.redirect("/lapangan?antre=1", 303);
        return page(200, "Tersimpan di ponsel", "Tidak ada sinyal: isian Anda disimpan di ponsel dan " +
                    "terkirim begitu ada sinyal dan halaman Lapangan dibuka.", true);
      });
  }).catch(function () {  // the phone could not keep it: say so, the form is still one step back
    return page(503, "Belum tersimpan", "Tidak ada sinyal dan isian tidak dapat disimpan di ponsel. " +
                "Kembali ke halaman sebelumnya dan kirim lagi begitu ada sinyal.", false);
  });
}

self.addEventListener("install", function () { self.skipWaiting(); });
self.addEventListener("activate", function (event) { event.waitUntil(self.clients.claim()); });

self.addEventListener("message", function (event) {
  var data = event.data || {};
  if (data.type === "purge") { event.waitUntil(purge()); return; }
  if (data.type !== "keep" || !data.user) return;
  var name = PREFIX + data.user;
  event.waitUntil(caches.keys().then(function (names) {  // another officer's copies go first
    return Promise.all(names.filter(function (n) { return n.indexOf(PREFIX) === 0 && n !== name; })
      .map(function (n) { return caches.delete(n); }));
  }).then(function () { return caches.open(name); }).then(function (cache) {
    return Promise.all((data.urls || []).filter(function (u) { return KEPT.test(u); }).map(function (u) {
      return fetch(u, { credentials: "same-origin", redirect: "manual" }).then(function (response) {
        if (!response.ok || response.type !== "basic") return;
        var kept = cache.put(u, response.clone());
        if (!/^\/tasks\//.test(u)) return kept;
        return Promise.all([kept, response.text().then(function (html) {  // the page's own files too
          var files = [], found, pattern = /(?:src|href)="(\/static\/[^"?#]+)"/g;
          while ((found = pattern.exec(html)) !== null) files.push(found[1]);
          return cache.addAll(files.filter(function (f) { return KEPT.test(f); }));
        })]);
      }).catch(function () { /* offline already: keep what there is */ });
    }));
  }));
});

self.addEventListener("fetch", function (event) {
  var request = event.request;
  var url = new URL(request.url);
  if (url.origin !== self.location.origin) return;  // CDN files: the browser's own handling
  if (request.method === "POST" && url.pathname === "/logout") {
    // The copies go whatever happens; the officer's forms still waiting only once the server
    // logged them out and they agreed (field.js asks, and names them in "queue_forget"): logging
    // out from a page that did not ask keeps them, to be sent after the next login.
    var asked = request.clone().formData().then(function (f) { return f.get("queue_forget"); },
                                                function () { return null; });
    event.respondWith(purge().catch(function () {}).then(function () { return fetch(request); })
      .then(function (response) {
        return asked.then(function (user) {
          var out = response.ok || response.type === "opaqueredirect";  // logged out (a redirect home)
          return user && out ? self.tanggapQueue.forget(user).catch(function () {}) : null;
        }).then(function () { return response; });
      }));
    return;
  }
  if (request.method === "POST" && TASK_FORM.test(url.pathname) && !request.headers.get(SENDING)) {
    var copy = request.clone();  // its body, should the network fail
    event.respondWith(fetch(request).then(function (response) {  // 503: the database is down; kept likewise
      return response.status === 503 ? keep(copy, url.pathname, function () { return response; }) : response;
    }, function () { return keep(copy, url.pathname, function () { return Response.error(); }); }));
    return;
  }
  if (request.headers.get(SENDING)) return;  // the field view sending what waits: the network, as it is
  if (request.method === "GET" && url.pathname === "/login") {  // the session is over (or ends): no copies
    event.waitUntil(purge());
    return;
  }
  if (request.method !== "GET" || !KEPT.test(url.pathname)) return;
  event.respondWith(fetch(request).then(function (response) {
    if (response.redirected && new URL(response.url).pathname === "/login") {
      return purge().then(function () { return response; });  // the session is over
    }
    if (response.status >= 500) return copyOf(url.pathname).then(function (kept) { return kept || response; });
    return response;
  }).catch(function () {
    return copyOf(url.pathname).then(function (kept) { return kept || Response.error(); });
  }));
});

function copyOf(path) {  // this phone's copy of a page (a page marked as one: <body data-copy>), or undefined
  return caches.keys().then(function (names) {
    var name = names.filter(function (n) { return n.indexOf(PREFIX) === 0; })[0];
    return name ? caches.open(name).then(function (c) { return c.match(path); }) : undefined;
  }).then(function (kept) {
    if (!kept || (kept.headers.get("Content-Type") || "").indexOf("text/html") !== 0) return kept;
    return kept.text().then(function (html) {
      return new Response(html.replace("<body", '<body data-copy="yes"'),
                          { status: kept.status, headers: { "Content-Type": kept.headers.get("Content-Type") } });
    });
  });
}
