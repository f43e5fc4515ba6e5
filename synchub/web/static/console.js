// synchub console: the little the pages need beyond htmx. Everything works without it.
(function () {
  "use strict";
  // "/" focuses the jump box, as in many consoles.
  document.addEventListener("keydown", function (e) {
    var t = e.target;
    if (e.key !== "/" || e.ctrlKey || e.metaKey || e.altKey) return;
    if (t && (t.isContentEditable || /^(INPUT|TEXTAREA|SELECT)$/.test(t.tagName))) return;
    var box = document.getElementById("jump");
    if (box) { e.preventDefault(); box.focus(); }
  });
  // Destructive forms ask first, naming what they act on.
  document.addEventListener("submit", function (e) {
    var form = e.target;
    var question = form && form.getAttribute && form.getAttribute("data-confirm");
    if (question && !window.confirm(question)) e.preventDefault();
  }, true);
  // The folder browser's "Use this folder" puts its path in the form's field, and
  // says so with a change event (which runs the form's checks).
  document.addEventListener("click", function (e) {
    var button = e.target && e.target.closest && e.target.closest("[data-use-path]");
    if (!button) return;
    var input = document.getElementById(button.getAttribute("data-for"));
    if (!input) return;
    input.value = button.getAttribute("data-use-path");
    input.dispatchEvent(new Event("change", { bubbles: true }));
    var panel = button.closest("details");
    if (panel) panel.open = false;
    input.focus();
  });
  // Exact instants in the browser's zone, on hover.
  function localTimes(root) {
    root.querySelectorAll("time[datetime]").forEach(function (el) {
      var at = new Date(el.getAttribute("datetime"));
      if (!isNaN(at)) el.title = at.toLocaleString();
    });
  }
  document.addEventListener("DOMContentLoaded", function () {
    localTimes(document);
    // Folded navigation on narrow screens starts closed.
    var menu = document.querySelector(".side details");
    if (menu && window.matchMedia("(max-width: 768px)").matches) menu.open = false;
  });
  document.addEventListener("htmx:afterSwap", function (e) { localTimes(e.target); });
  // A followed log stays at its end while new lines arrive.
  document.addEventListener("htmx:sseMessage", function (e) {
    var log = document.querySelector("ol.log");
    if (log && e.detail && e.detail.type === "log") log.scrollTop = log.scrollHeight;
  });
})();
