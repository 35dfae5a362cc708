/* Warns before an idle staff session ends, and lets the person stay signed in without
   leaving the page (what they typed stays where it is). If the session ends anyway, what was
   typed in the page's forms is kept in this tab (sessionStorage) and put back when the same
   page opens after signing in again. No inline script: the page's CSP allows only files. */
(function () {
  "use strict";
  var meta = document.querySelector('meta[name="redress-session"]');
  var box = document.getElementById("session-warning");
  if (!meta || !box || !window.fetch) {
    return;
  }
  var url = meta.getAttribute("data-url");
  var loginUrl = meta.getAttribute("data-login");
  var idle = Number(meta.getAttribute("data-idle-seconds")) || 1800;
  var warn = Number(meta.getAttribute("data-warn-seconds")) || 120;
  var tokenMeta = document.querySelector('meta[name="csrf-token"]');
  var csrf = tokenMeta ? tokenMeta.getAttribute("content") : "";
  var draftKey = "redress-draft:" + window.location.pathname + window.location.search;
  var countdown = box.querySelector("[data-countdown]");
  var timer = null;
  var ticker = null;
  var deadline = 0;

  function fields() {
    return Array.prototype.slice.call(
      document.querySelectorAll('form[method="post"] textarea, form[method="post"] input[type="text"]')
    ).filter(function (field) { return field.name; });
  }

  function saveDrafts() {
    var kept = {};
    var any = false;
    fields().forEach(function (field) {
      if (field.value) {
        kept[field.form.getAttribute("action") + "|" + field.name] = field.value;
        any = true;
      }
    });
    if (any) {
      try { window.sessionStorage.setItem(draftKey, JSON.stringify(kept)); } catch (e) { /* full or off */ }
    }
  }

  function restoreDrafts() {
    var saved = null;
    try {
      saved = JSON.parse(window.sessionStorage.getItem(draftKey) || "null");
      window.sessionStorage.removeItem(draftKey);
    } catch (e) {
      return;
    }
    if (!saved) {
      return;
    }
    var restored = false;
    fields().forEach(function (field) {
      var value = saved[field.form.getAttribute("action") + "|" + field.name];
      if (value && !field.value) {
        field.value = value;
        restored = true;
      }
    });
    var note = document.getElementById("draft-restored");
    if (restored && note) {
      note.hidden = false;
    }
  }

  function show(state) {
    box.hidden = false;
    Array.prototype.forEach.call(box.querySelectorAll("[data-when]"), function (el) {
      el.hidden = el.getAttribute("data-when") !== state;
    });
  }

  function format(seconds) {
    var m = Math.floor(seconds / 60);
    var s = seconds % 60;
    return m + ":" + (s < 10 ? "0" : "") + s;
  }

  function tick() {
    var left = Math.max(0, Math.round((deadline - Date.now()) / 1000));
    countdown.textContent = format(left);
    if (left <= 0) {
      window.clearInterval(ticker);
      ticker = null;
      ask("GET");
    }
  }

  function ended() {
    window.clearTimeout(timer);
    window.clearInterval(ticker);
    saveDrafts();
    var back = window.location.pathname + window.location.search;
    box.querySelector("[data-signin]").setAttribute(
      "href", loginUrl + "?next=" + encodeURIComponent(back)
    );
    show("ended");
  }

  function schedule(secondsLeft) {
    window.clearTimeout(timer);
    timer = window.setTimeout(function () { ask("GET"); }, Math.max(1, secondsLeft - warn) * 1000);
  }

  function answer(left) {
    if (left === null) {
      ended();
    } else if (left <= 1) {
      // Not ended yet by the server's clock: ask again in a moment.
      window.clearTimeout(timer);
      timer = window.setTimeout(function () { ask("GET"); }, 1500);
    } else if (left > warn + 1) {
      // Busy in another tab: the session is younger than this page thinks.
      box.hidden = true;
      window.clearInterval(ticker);
      ticker = null;
      schedule(left);
    } else {
      deadline = Date.now() + left * 1000;
      show("warn");
      tick();
      if (!ticker) {
        ticker = window.setInterval(tick, 1000);
      }
      // Look again now and then: activity in another tab may have kept the session going.
      window.clearTimeout(timer);
      timer = window.setTimeout(function () { ask("GET"); }, 15000);
    }
  }

  function ask(method) {
    var headers = { "Accept": "application/json" };
    if (method === "POST") {
      headers["X-CSRFToken"] = csrf;
    }
    window.fetch(url, { method: method, credentials: "same-origin", headers: headers })
      .then(function (response) {
        return response.json().then(function (body) {
          return response.ok ? body.seconds_left : null;  // null: the session has ended
        });
      })
      .then(answer, function () { schedule(warn + 30); });
  }

  box.querySelector("[data-stay]").addEventListener("click", function () { ask("POST"); });
  restoreDrafts();
  schedule(idle);
}());
