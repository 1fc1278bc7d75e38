// Ranking page: order the answers best first by drag-and-drop or keyboard; ties when the project allows them.
// The list's DOM order is the ranking; a card with data-tied="1" shares the rank of the card above it.
// When the project asks more (annotation/aspects.py): each answer's aspects, the strength of each adjacent pair
// and a rationale, answered by keyboard too (Tab walks them, digits rate), sent as JSON in hidden fields.
(function () {
  "use strict";
  const list = document.getElementById("ranking");
  const form = document.getElementById("submit-form");
  if (!list || !form) return;
  const allowTies = list.dataset.allowTies === "1";
  const rankingInput = document.getElementById("ranking-input");
  const timeInput = document.getElementById("time-input");
  const notice = document.getElementById("notice");
  let changed = false;
  let confirmUnchanged = false;
  let dragged = null;

  const cards = () => Array.from(list.querySelectorAll("li.completion"));

  function groups() {
    const result = [];
    cards().forEach((card, index) => {
      const id = Number(card.dataset.id);
      if (index > 0 && card.dataset.tied === "1") result[result.length - 1].push(id);
      else result.push([id]);
    });
    return result;
  }

  function refresh() {
    let rank = 0;
    cards().forEach((card, index) => {
      if (index === 0) card.dataset.tied = "0";
      if (card.dataset.tied !== "1") rank += 1;
      card.querySelector(".rank-badge").textContent = String(rank);
      card.classList.toggle("tied", card.dataset.tied === "1");
    });
    rankingInput.value = JSON.stringify(groups());
    if (asks) {
      buildStrengths();
      writeAnswers();
    }
  }

  // --- Questions besides the order -------------------------------------------------------------------------
  const aspectsInput = document.getElementById("aspects-input");
  const strengthsInput = document.getElementById("strengths-input");
  const strengthRows = document.getElementById("strength-rows");
  const strengthTemplate = document.getElementById("strength-row");
  const rationale = document.getElementById("rationale-input");
  const asks = Boolean(aspectsInput);
  const chosenStrength = new Map(); // "ids above|ids below" -> strength, kept while that pair stays adjacent
  let pairsShown = null;

  function show(box, value) {
    box.dataset.value = value;
    box.querySelectorAll(".score").forEach((b) => b.setAttribute("aria-checked", String(b.dataset.value === value)));
  }

  function pick(box, value) {
    show(box, value);
    if (box.classList.contains("missing")) {
      box.classList.remove("missing");
      if (!document.querySelector(".aspect.missing, .strength.missing")) notice.textContent = ""; // all answered
    }
    if (box.classList.contains("strength")) chosenStrength.set(box.dataset.pair, value);
    writeAnswers();
  }

  // A digit: that score of an aspect, or the n-th strength (1 strongest); arrows: one less, one more.
  function rateByKey(box, key) {
    const buttons = Array.from(box.querySelectorAll(".score"));
    let next;
    if (key === "ArrowLeft" || key === "ArrowRight") {
      const at = buttons.findIndex((b) => b.dataset.value === box.dataset.value);
      const step = key === "ArrowRight" ? 1 : -1;
      next = buttons[at < 0 ? 0 : Math.max(0, Math.min(buttons.length - 1, at + step))];
    } else if (box.classList.contains("strength")) next = buttons[Number(key) - 1];
    else next = buttons.find((b) => b.dataset.value === key);
    if (next) pick(box, next.dataset.value);
  }

  function answerLabels(ids) {
    return ids.map((id) => list.querySelector(`li.completion[data-id="${id}"] .answer-label`).textContent).join(" = ");
  }

  function buildStrengths() {
    if (!strengthRows) return;
    const ranked = groups();
    const pairs = ranked.slice(1).map((below, i) => ranked[i].join(",") + "|" + below.join(","));
    if (pairs.join(";") === pairsShown) return; // the same pairs: keep the rows (and the focus)
    pairsShown = pairs.join(";");
    strengthRows.replaceChildren();
    pairs.forEach((pair, i) => {
      const row = strengthTemplate.content.firstElementChild.cloneNode(true);
      const text = answerLabels(ranked[i]) + " > " + answerLabels(ranked[i + 1]);
      row.dataset.pair = pair;
      row.setAttribute("aria-label", text);
      row.querySelector(".pair").textContent = text;
      if (chosenStrength.has(pair)) show(row, chosenStrength.get(pair));
      strengthRows.appendChild(row);
    });
  }

  function writeAnswers() {
    const ratings = {};
    cards().forEach((card) =>
      card.querySelectorAll(".aspect[data-value]").forEach((box) => {
        ratings[card.dataset.id] = ratings[card.dataset.id] || {};
        ratings[card.dataset.id][box.dataset.key] = Number(box.dataset.value);
      })
    );
    aspectsInput.value = Object.keys(ratings).length ? JSON.stringify(ratings) : "";
    const rows = strengthRows ? Array.from(strengthRows.querySelectorAll(".strength")) : [];
    const complete = rows.length > 0 && rows.every((row) => row.dataset.value);
    strengthsInput.value = complete ? JSON.stringify(rows.map((row) => row.dataset.value)) : "";
  }

  // Tab's walk: every answer's aspects (answers in their current order), each pair's strength, the rationale.
  const walk = () => [
    ...list.querySelectorAll(".aspect"),
    ...(strengthRows ? strengthRows.querySelectorAll(".strength") : []),
    ...(rationale ? [rationale] : []),
  ];

  // Whether the key was a question's (then handled here).
  function questionKey(event) {
    const target = event.target;
    const box = target.closest ? target.closest(".aspect, .strength") : null;
    if (event.key === "Tab") {
      if (!box && target.matches && target.matches("li.completion") && !event.shiftKey) {
        const first = target.querySelector(".aspect"); // from an answer to its own aspects
        if (!first) return false;
        event.preventDefault();
        first.focus();
        return true;
      }
      const all = walk();
      const next = box ? all[all.indexOf(box) + (event.shiftKey ? -1 : 1)] : null;
      if (!next) return false; // past either end: the browser's own order
      event.preventDefault();
      next.focus();
      return true;
    }
    if (box && (/^[0-9]$/.test(event.key) || event.key === "ArrowLeft" || event.key === "ArrowRight")) {
      event.preventDefault();
      rateByKey(box, event.key);
      return true;
    }
    return false;
  }

  document.addEventListener("click", (event) => {
    const button = event.target.closest ? event.target.closest(".aspect .score, .strength .score") : null;
    if (!button) return;
    const box = button.closest(".aspect, .strength");
    pick(box, button.dataset.value);
    box.focus();
  });

  // Before a submission: everything asked is answered (a flag needs none of it); else say what and go there.
  function answersReady(flagged) {
    writeAnswers();
    if (flagged) return true;
    const missing = walk().filter((el) => el !== rationale && el.dataset.value === undefined);
    missing.forEach((el) => el.classList.add("missing"));
    if (missing.length) {
      const aspect = missing[0].classList.contains("aspect");
      notice.textContent = aspect
        ? list.dataset.msgAspects + " " + missing[0].getAttribute("aria-label")
        : list.dataset.msgStrengths;
      missing[0].focus();
      return false;
    }
    if (rationale && rationale.dataset.required === "1" && !rationale.value.trim()) {
      notice.textContent = list.dataset.msgRationale;
      rationale.focus();
      return false;
    }
    return true;
  }

  function touched() {
    changed = true;
    confirmUnchanged = false;
    notice.textContent = "";
    refresh();
  }

  function moveTo(card, position) {
    const all = cards().filter((c) => c !== card);
    position = Math.max(0, Math.min(position, all.length));
    card.dataset.tied = "0";
    if (position >= all.length) list.appendChild(card);
    else list.insertBefore(card, all[position]);
    card.focus();
    touched();
  }

  function toggleTie(card) {
    if (!allowTies || card === cards()[0]) return;
    card.dataset.tied = card.dataset.tied === "1" ? "0" : "1";
    touched();
  }

  // --- Keyboard ---------------------------------------------------------------------------------------------
  document.addEventListener("keydown", (event) => {
    const target = event.target;
    if (target.closest && target.closest("textarea, input, select")) {
      if (event.key === "Escape") target.blur();
      // In a text box Enter is a new line; Ctrl+Enter (⌘+Enter on a Mac) submits from there.
      else if (event.key === "Enter" && (event.ctrlKey || event.metaKey) && target.tagName === "TEXTAREA") {
        event.preventDefault();
        submit();
      }
      return;
    }
    if (event.ctrlKey || event.metaKey || event.altKey) return;
    if (asks && questionKey(event)) return;
    const all = cards();
    const current = target.closest ? target.closest("li.completion") : null;
    const index = current ? all.indexOf(current) : -1;
    if (event.key === "ArrowDown" || event.key === "ArrowUp") {
      event.preventDefault();
      const step = event.key === "ArrowDown" ? 1 : -1;
      if (current && event.shiftKey) moveTo(current, index + step);
      else (all[index < 0 ? 0 : Math.max(0, Math.min(all.length - 1, index + step))] || all[0]).focus();
    } else if (/^[1-9]$/.test(event.key) && current) {
      event.preventDefault();
      moveTo(current, Number(event.key) - 1);
    } else if (event.key === "=" && current) {
      event.preventDefault();
      toggleTie(current);
    } else if (event.key === "Enter") {
      event.preventDefault();
      submit();
    } else if (event.key === "s" || event.key === "S") {
      event.preventDefault();
      document.getElementById("skip-form").submit();
    } else if (event.key === "f" || event.key === "F") {
      event.preventDefault();
      document.getElementById("flag-select").focus();
    } else if ((event.key === "u" || event.key === "U") && document.getElementById("undo-form")) {
      event.preventDefault();
      document.getElementById("undo-form").submit();
    }
  });

  list.addEventListener("click", (event) => {
    const button = event.target.closest(".tie-toggle, .move-up, .move-down, .expand");
    if (!button) return;
    const card = button.closest("li.completion");
    if (button.classList.contains("tie-toggle")) toggleTie(card);
    else if (button.classList.contains("expand")) expand(card, button);
    else moveTo(card, cards().indexOf(card) + (button.classList.contains("move-up") ? -1 : 1));
  });

  // --- Long answers start collapsed; "Show all" expands one -------------------------------------------------
  function expand(card, button) {
    const body = card.querySelector(".body");
    const open = body.classList.toggle("collapsed") === false;
    button.textContent = open ? list.dataset.msgLess : list.dataset.msgMore;
    button.setAttribute("aria-expanded", String(open));
  }
  cards().forEach((card) => {
    const body = card.querySelector(".body");
    if (body.scrollHeight <= 420) return;
    body.classList.add("collapsed");
    const button = document.createElement("button");
    button.type = "button";
    button.className = "expand link";
    button.textContent = list.dataset.msgMore;
    button.setAttribute("aria-expanded", "false");
    body.after(button);
  });

  // --- Drag and drop ----------------------------------------------------------------------------------------
  list.addEventListener("dragstart", (event) => {
    dragged = event.target.closest("li.completion");
    if (!dragged) return;
    dragged.classList.add("dragging");
    event.dataTransfer.effectAllowed = "move";
    event.dataTransfer.setData("text/plain", dragged.dataset.id);
  });
  const sideBySide = list.classList.contains("pair"); // K=2: the two answers side by side, dragged across
  function placeAt(x, y) {
    const others = cards().filter((c) => c !== dragged);
    const before = others.find((c) => {
      const box = c.getBoundingClientRect();
      return sideBySide ? x < box.left + box.width / 2 : y < box.top + box.height / 2;
    });
    if (before) list.insertBefore(dragged, before);
    else list.appendChild(dragged);
  }
  list.addEventListener("dragover", (event) => {
    if (!dragged) return;
    event.preventDefault();
    placeAt(event.clientX, event.clientY);
  });

  // Touch screens: drag by the rank column (pointer events; the page does not scroll while a card moves).
  list.addEventListener("pointerdown", (event) => {
    const handle = event.target.closest(".rank-side");
    if (!handle || event.pointerType === "mouse" || event.target.closest("button")) return;
    dragged = handle.closest("li.completion");
    dragged.classList.add("dragging");
    handle.setPointerCapture(event.pointerId);
  });
  list.addEventListener("pointermove", (event) => {
    if (dragged && event.pointerType !== "mouse") placeAt(event.clientX, event.clientY);
  });
  ["pointerup", "pointercancel"].forEach((name) =>
    list.addEventListener(name, (event) => {
      if (!dragged || event.pointerType === "mouse") return;
      dragged.classList.remove("dragging");
      dragged.dataset.tied = "0";
      dragged = null;
      touched();
    })
  );
  list.addEventListener("drop", (event) => {
    event.preventDefault();
  });
  list.addEventListener("dragend", () => {
    if (!dragged) return;
    dragged.classList.remove("dragging");
    dragged.dataset.tied = "0";
    dragged = null;
    touched();
  });

  // --- Time on task (visible time only) and lease heartbeat -------------------------------------------------
  let visibleMs = 0;
  let since = document.visibilityState === "visible" ? performance.now() : null;
  let lastActivity = Date.now();
  const now = () => visibleMs + (since === null ? 0 : performance.now() - since);
  document.addEventListener("visibilitychange", () => {
    if (document.visibilityState === "visible") since = performance.now();
    else if (since !== null) {
      visibleMs += performance.now() - since;
      since = null;
    }
  });
  ["keydown", "pointerdown", "scroll"].forEach((name) =>
    document.addEventListener(name, () => (lastActivity = Date.now()), { passive: true })
  );
  const csrf = form.querySelector("input[name=csrfmiddlewaretoken]").value;
  setInterval(() => {
    if (Date.now() - lastActivity > 5 * 60 * 1000) return; // idle labelers let their lease run out
    fetch(list.dataset.heartbeatUrl, { method: "POST", headers: { "X-CSRFToken": csrf }, credentials: "same-origin" });
  }, 60 * 1000);

  // --- Submit -----------------------------------------------------------------------------------------------
  function submit() {
    const flagged = document.getElementById("flag-select").value !== "";
    if (!changed && !flagged && !confirmUnchanged) {
      confirmUnchanged = true;
      notice.textContent = list.dataset.msgUnchanged;
      return;
    }
    refresh();
    if (flagged && !changed) rankingInput.value = ""; // a flag alone: the order as shown is not a judgement
    if (asks && !answersReady(flagged)) return;
    if (asks && flagged && !changed) strengthsInput.value = ""; // no ranking: no pairs to compare
    timeInput.value = String(Math.round(now()));
    form.submit();
  }
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    submit();
  });

  // --- Undo bar fades out when its window closes ------------------------------------------------------------
  const undo = document.getElementById("undo-form");
  if (undo) setTimeout(() => undo.remove(), Number(undo.dataset.seconds || 60) * 1000);

  refresh();
  (cards()[0] || list).focus();
})();
