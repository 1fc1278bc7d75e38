// Review cards from the keyboard: j/k (or arrows) move between cards, a accepts, r rejects (htmx swaps the card
// in place and focus stays on it), x ticks the card for a bulk action.
(function () {
  "use strict";
  function cards() { return Array.from(document.querySelectorAll("article.review-card")); }
  function current() { return document.activeElement && document.activeElement.closest("article.review-card"); }
  function move(step) {
    const all = cards();
    if (!all.length) return;
    const index = all.indexOf(current());
    const next = all[Math.min(Math.max(index + step, 0), all.length - 1)] || all[0];
    next.focus();
    next.scrollIntoView({ block: "nearest" });
  }
  document.addEventListener("keydown", function (event) {
    if (event.ctrlKey || event.metaKey || event.altKey) return;
    const target = event.target;
    if (target.matches && target.matches("input[type=search], input[type=text], textarea, select")) return;
    const card = current();
    const key = event.key;
    if (key === "j" || key === "ArrowDown") { move(1); event.preventDefault(); }
    else if (key === "k" || key === "ArrowUp") { move(-1); event.preventDefault(); }
    else if (card && (key === "a" || key === "r")) {
      const button = card.querySelector(`[data-decision=${key === "a" ? "accept" : "reject"}]`);
      if (button) { button.click(); event.preventDefault(); }
    } else if (card && key === "x") {
      const box = card.querySelector("input[type=checkbox]");
      box.checked = !box.checked;
      event.preventDefault();
    }
  });
  document.addEventListener("htmx:afterSwap", function (event) {
    const card = event.detail.target && document.getElementById(event.detail.target.id);
    if (card) card.focus();
  });
  document.addEventListener("DOMContentLoaded", function () {
    const first = cards()[0];
    if (first) first.focus({ preventScroll: true });
    const all = document.getElementById("tick-all");
    if (all) all.addEventListener("click", function () {
      cards().forEach(function (c) { c.querySelector("input[type=checkbox]").checked = true; });
    });
  });
})();
