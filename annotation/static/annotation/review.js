// Review page: keyboard-first. A accepts the consensus; 1–9 puts the caret in that labeler's reject reason (Enter
// sends it); O puts it in the adjudicated order (Enter saves it); N opens the next task; Esc leaves a field. The
// forms work without this script; it only adds the keys.
(function () {
  "use strict";
  const accept = document.getElementById("accept-form");
  if (!accept) return;
  const order = document.getElementById("order-input");
  const skip = document.getElementById("skip-link");
  const reasons = Array.from(document.querySelectorAll("tr.ranking-row")).map((row) => row.querySelector(".reject-reason"));
  let sent = false;

  function typing(target) {
    return target && (target.tagName === "INPUT" || target.tagName === "TEXTAREA" || target.tagName === "SELECT");
  }

  document.querySelectorAll("form").forEach((form) =>
    form.addEventListener("submit", (event) => {
      if (sent) event.preventDefault(); // one decision per page: a second key press must not send another
      sent = true;
    })
  );

  // A reject needs a reason: Enter in an empty box says so and keeps the caret there (the browser's own
  // "required" bubble is easy to miss, and the box looked as if nothing happened).
  reasons.forEach((input) => {
    if (!input) return;
    const error = input.form.querySelector(".reject-error");
    input.addEventListener("input", () => { if (error) error.hidden = true; });
    input.form.addEventListener("submit", (event) => {
      if (input.value.trim()) return;
      event.preventDefault();
      event.stopImmediatePropagation(); // before the one-decision guard marks the page as sent
      if (error) error.hidden = false;
      input.focus();
    }, true);
    input.addEventListener("invalid", (event) => {
      event.preventDefault();
      if (error) error.hidden = false;
      input.focus();
    });
  });

  document.addEventListener("keydown", (event) => {
    if (event.ctrlKey || event.metaKey || event.altKey) return;
    if (typing(event.target)) {
      if (event.key === "Escape") event.target.blur();
      return;
    }
    const key = event.key.toLowerCase();
    if (key === "a") {
      event.preventDefault();
      accept.requestSubmit();
    } else if (key === "o") {
      event.preventDefault();
      order.focus();
      order.select();
    } else if (key === "n" && skip) {
      event.preventDefault();
      window.location.href = skip.href;
    } else if (/^[1-9]$/.test(key)) {
      const input = reasons[Number(key) - 1];
      if (input) {
        event.preventDefault();
        input.focus();
      }
    }
  });
})();
