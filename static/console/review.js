// Review cards from the keyboard: j/k (or arrows) move between cards, a accepts, r rejects (htmx swaps the card
// in place and the focus moves on to the next card; a click's decision keeps it on the card), x ticks the card for
// a bulk action.
(function () {
  "use strict";
  function cards() { return Array.from(document.querySelectorAll("article.review-card")); }
  function current() { return document.activeElement && document.activeElement.closest("article.review-card"); }
  function move(step) {
    acted = null; // the labeler moved on: a late settle of the last decision must not pull the focus back
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
      if (button) { acted = card; advance = true; decide(card, button); event.preventDefault(); }
    } else if (card && key === "x") {
      const box = card.querySelector("input[type=checkbox]");
      box.checked = !box.checked;
      event.preventDefault();
    }
  });
  // A decision from the keyboard goes through htmx.ajax with the button's own URL and values (a click could land
  // on a card htmx has not finished wiring up, right after the previous swap).
  function decide(card, button) {
    if (!window.htmx) { button.click(); return; }
    window.htmx.ajax("POST", button.getAttribute("hx-post"), {
      source: button,
      target: "#" + card.id,
      swap: "outerHTML",
      values: JSON.parse(button.getAttribute("hx-vals")),
    });
  }

  // The decided card is redrawn in place (outerHTML): give the focus back to its new copy, so the next key acts on
  // it. The swap's own events fire on the old, detached element, so listen for the settle of the new one. `acted`
  // is the old element itself: a card decided before carries data-decided too, and an unrelated settle (a poll)
  // must not count it as the redrawn copy, or the focus would fall to the page when the real swap lands.
  let acted = null;
  let advance = false; // decided by key: the focus goes on to the next card once the decided one is redrawn
  document.addEventListener("click", function (event) {
    const card = event.target.closest && event.target.closest("article.review-card");
    if (card && event.target.closest("[data-decision]")) { acted = card; advance = false; }
  });
  function refocus() {
    const card = acted && document.getElementById(acted.id);
    if (!card || card === acted || card.dataset.decided === undefined) return; // not the redrawn copy yet
    acted = null; // once: the labeler may already be moving on
    const other = current();
    if (other && other !== card) return; // already on another card (htmx gives the focus back on swap, by id)
    const all = cards();
    const next = advance ? all[all.indexOf(card) + 1] || card : card;
    next.focus({ preventScroll: true });
    if (next !== card) next.scrollIntoView({ block: "nearest" });
  }
  document.addEventListener("htmx:afterSettle", refocus);
  document.addEventListener("htmx:load", refocus);
  document.addEventListener("DOMContentLoaded", function () {
    const first = cards()[0];
    if (first) first.focus({ preventScroll: true });
    const all = document.getElementById("tick-all");
    if (all) all.addEventListener("click", function () {
      cards().forEach(function (c) { c.querySelector("input[type=checkbox]").checked = true; });
    });
  });
})();
