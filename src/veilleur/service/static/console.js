// Veilleur console: live deadline countdowns and keyboard shortcuts. No framework, no eval.
(function () {
  "use strict";

  function fmt(ms) {
    var s = Math.abs(Math.round(ms / 1000));
    var d = Math.floor(s / 86400), h = Math.floor((s % 86400) / 3600),
        m = Math.floor((s % 3600) / 60), r = s % 60;
    var out = (d ? d + "d " : "") + (d || h ? h + "h " : "") + m + "m " + (d ? "" : r + "s");
    return out.trim();
  }

  function tick() {
    var now = Date.now();
    document.querySelectorAll(".countdown[data-due]").forEach(function (el) {
      var due = Date.parse(el.getAttribute("data-due"));
      if (isNaN(due)) { return; }
      var left = due - now;
      if (left <= 0) {
        el.textContent = (el.getAttribute("data-breached") || "breached") + " +" + fmt(left);
        el.classList.add("breached");
      } else {
        el.textContent = fmt(left);
      }
    });
  }
  setInterval(tick, 1000);
  document.addEventListener("DOMContentLoaded", tick);
  document.addEventListener("htmx:afterSwap", tick);

  var CATS = {"1": "csam", "2": "grooming", "3": "sextortion", "4": "ncii", "0": ""};

  function click(sel) {
    var el = document.querySelector(sel);
    if (el) { el.click(); return true; }
    return false;
  }

  document.addEventListener("keydown", function (ev) {
    var t = ev.target;
    if (ev.ctrlKey || ev.metaKey || ev.altKey) { return; }
    if (t && (t.tagName === "INPUT" || t.tagName === "TEXTAREA" || t.tagName === "SELECT")) {
      if (ev.key === "Escape") { t.blur(); }
      return;
    }
    var key = ev.key;
    if (key in CATS) {
      document.querySelectorAll("#decision select.category").forEach(function (s) {
        s.value = CATS[key];
      });
    } else if (key === "p") {
      var form = document.getElementById("decision");
      if (form) { form.requestSubmit(); }
    } else if (key === "c") {
      click("#confirm-button");
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
