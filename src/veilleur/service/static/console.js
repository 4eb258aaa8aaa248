// Veilleur console: live deadline countdowns, deadlines in local time, the decision form's
// suggestion and refusals, muted videos, keyboard shortcuts. No framework, no eval. Every
// word shown comes from the page (the catalogues), never from here.
(function () {
  "use strict";

  function units() {
    var u = (document.body.getAttribute("data-units") || "d h m s").split(" ");
    return {d: u[0], h: u[1], m: u[2], s: u[3]};
  }

  function fmt(ms) {
    var u = units();
    var s = Math.abs(Math.round(ms / 1000));
    var d = Math.floor(s / 86400), h = Math.floor((s % 86400) / 3600),
        m = Math.floor((s % 3600) / 60), r = s % 60;
    var out = (d ? d + u.d + " " : "") + (d || h ? h + u.h + " " : "") + m + u.m + " " +
      (d ? "" : r + u.s);
    return out.trim();
  }

  function tick() {
    var now = Date.now();
    var late = document.body.getAttribute("data-breached") || "";
    document.querySelectorAll(".countdown[data-due]").forEach(function (el) {
      var due = Date.parse(el.getAttribute("data-due"));
      if (isNaN(due)) { return; }
      var left = due - now;
      if (left <= 0) {
        el.textContent = late + " +" + fmt(left);
        el.classList.add("breached");
      } else {
        el.textContent = fmt(left);
      }
    });
  }

  // Deadlines and times in the reviewer's own time zone, in the page's language.
  function localTimes() {
    var lang = document.documentElement.lang || undefined;
    var f;
    try {
      f = new Intl.DateTimeFormat(lang, {dateStyle: "medium", timeStyle: "short"});
    } catch (e) { return; }
    document.querySelectorAll("time.local[datetime]").forEach(function (el) {
      if (el.getAttribute("data-local")) { return; }
      var when = Date.parse(el.getAttribute("datetime"));
      if (isNaN(when)) { return; }
      el.textContent = f.format(new Date(when));
      el.setAttribute("data-local", "1");
    });
  }

  // Revealed videos: muted and paused; they play only when pressed, without sound until the
  // reviewer turns it on.
  function quietVideos() {
    document.querySelectorAll("video").forEach(function (v) {
      v.autoplay = false;
      v.muted = true;
      if (!v.getAttribute("data-quiet")) {
        v.setAttribute("data-quiet", "1");
        try { v.pause(); } catch (e) { /* not loaded */ }
      }
    });
  }

  function refresh() { tick(); localTimes(); quietVideos(); }
  setInterval(tick, 1000);
  document.addEventListener("DOMContentLoaded", function () { refresh(); wire(); });
  document.addEventListener("htmx:afterSwap", refresh);

  var CATS = {"1": "csam", "2": "grooming", "3": "sextortion", "4": "ncii"};

  function click(sel) {
    var el = document.querySelector(sel);
    if (el) { el.click(); return true; }
    return false;
  }

  function say(text) {
    var box = document.getElementById("decision-msg");
    if (box) { box.textContent = text; }
  }

  function form() { return document.getElementById("decision"); }

  // Which targets still lack a verdict (or, for a violation, its category or ground).
  function undecided() {
    var f = form();
    var out = {chosen: 0, missing: 0};
    if (!f) { return out; }
    f.querySelectorAll("fieldset.target-choice").forEach(function (fs) {
      var v = fs.querySelector("input[type=radio]:checked");
      var cat = fs.querySelector("select.category");
      var ground = fs.querySelector("select.ground");
      if (v) { out.chosen += 1; }
      if (!v || (v.value === "violation" && (!cat.value || !ground.value))) {
        out.missing += 1;
      }
    });
    return out;
  }

  function useSuggestion() {
    var f = form();
    if (!f) { return; }
    f.querySelectorAll("[data-suggested]").forEach(function (el) {
      if (el.tagName === "OPTION") { el.selected = true; } else { el.checked = true; }
    });
    changed();
  }

  // `0`: no violation on every target; `1`-`4`: a violation of that category on every
  // target (the ground and the measures stay the reviewer's to choose). A category the form
  // does not offer this person (child sexual abuse, to anyone but a specialist) is not
  // chosen by its key: the form is left as it was, and the reviewer is told why, in their
  // words (the page's data-key-reserved), never half-chosen as a violation without category.
  function setAll(key) {
    var f = form();
    if (!f) { return; }
    if (key !== "0" && !f.querySelector("select.category option[value=" + CATS[key] + "]")) {
      say(document.body.getAttribute("data-key-reserved") || "");
      return;
    }
    f.querySelectorAll("fieldset.target-choice").forEach(function (fs) {
      var value = key === "0" ? "none" : "violation";
      var radio = fs.querySelector("input[type=radio][value=" + value + "]");
      if (radio) { radio.checked = true; }
      if (key !== "0") { fs.querySelector("select.category").value = CATS[key]; }
    });
    changed();
  }

  // A choice changed: what was previewed no longer holds; it must be previewed again.
  function changed() {
    var p = document.getElementById("preview");
    if (p) { p.textContent = ""; }
    say("");
  }

  function confirmKey() {
    if (click("#confirm-button")) { return; }
    var f = form();
    if (!f) { return; }
    var state = undecided();
    if (state.chosen === 0) {
      say(f.getAttribute("data-refused-nothing"));
    } else if (state.missing) {
      say(f.getAttribute("data-refused-incomplete"));
    } else {
      say(f.getAttribute("data-refused-preview"));
    }
  }

  function wire() {
    var f = form();
    if (f) {
      f.addEventListener("change", changed);
      f.addEventListener("input", changed);
    }
    var s = document.getElementById("use-suggestion");
    if (s) { s.addEventListener("click", useSuggestion); }
  }

  document.addEventListener("keydown", function (ev) {
    var t = ev.target;
    if (ev.ctrlKey || ev.metaKey || ev.altKey) { return; }
    if (t && (t.tagName === "INPUT" || t.tagName === "TEXTAREA" || t.tagName === "SELECT")) {
      if (ev.key === "Escape") { t.blur(); }
      return;
    }
    var key = ev.key;
    if (key === "0" || key in CATS) {
      setAll(key);
    } else if (key === "s") {
      useSuggestion();
    } else if (key === "p") {
      if (form()) { form().requestSubmit(); }
    } else if (key === "c") {
      confirmKey();
    } else if (key === "r") {
      click("figure.blurred button.reveal");
    } else if (key === "n") {
      click("#take-next button");
    } else if (key === "Escape") {
      click("#release button");
    } else {
      return;
    }
    ev.preventDefault();
  });
})();
