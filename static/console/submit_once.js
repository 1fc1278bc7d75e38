// Forms marked data-submit-once are sent once: a double-click (or Enter pressed twice) does not send them again
// while the first submission loads. The submit buttons are disabled after the browser has read the form (so the
// clicked button's own name and value still go with it) and come back when the page is shown again from the
// back/forward cache. The server guards the same (a one-time token): this only spares the user a second request.
(function () {
  "use strict";
  document.addEventListener("submit", function (event) {
    const form = event.target;
    if (!(form instanceof HTMLFormElement) || !form.hasAttribute("data-submit-once")) return;
    if (form.dataset.sent === "1") { event.preventDefault(); return; }
    form.dataset.sent = "1";
    window.setTimeout(function () {
      form.querySelectorAll("button[type=submit], input[type=submit]").forEach(function (button) {
        button.disabled = true;
        button.setAttribute("aria-busy", "true");
      });
    }, 0);
  });
  window.addEventListener("pageshow", function () {
    document.querySelectorAll("form[data-submit-once][data-sent]").forEach(function (form) {
      delete form.dataset.sent;
      form.querySelectorAll("button[type=submit], input[type=submit]").forEach(function (button) {
        button.disabled = false;
        button.removeAttribute("aria-busy");
      });
    });
  });
})();
