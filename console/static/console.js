// callbot console: labelling at keyboard speed. Plain JavaScript, no build step (htmx, vendored beside it,
// swaps the inbox's filters and pages; the labels go out from here).
// Keys (outside text fields): j/k or arrows move, Enter accepts the model's intent, 1-9 pick from the
// ranking, / searches intents, o = out of scope, e edits the transcript, s skips, a = apply to similar,
// p plays the turn's audio.
(function () {
  "use strict";
  const cfg = window.CONSOLE;
  const intents = JSON.parse(document.getElementById("intents").textContent);
  const outOfScope = intents.find((i) => i.name.endsWith("out_of_scope"));
  const rows = () => Array.from(document.querySelectorAll("tr.turn"));
  const status = document.getElementById("status");
  const search = document.getElementById("search");
  const searchInput = document.getElementById("search-input");
  const searchResults = document.getElementById("search-results");
  const similarBox = document.getElementById("similar");
  let current = null;
  let similar = null; // turn ids the next label applies to
  let found = [];
  let chosen = 0;

  function say(text, bad) {
    status.textContent = text;
    status.className = bad ? "status bad" : "status";
  }

  function focusRow(row) {
    if (!row) return;
    if (current) current.classList.remove("current");
    current = row;
    row.classList.add("current");
    row.scrollIntoView({block: "nearest"});
    closeSimilar();
  }

  function move(step) {
    const all = rows();
    const at = all.indexOf(current);
    focusRow(all[Math.min(all.length - 1, Math.max(0, at + step))]);
  }

  function nextUnlabelled() {
    const all = rows();
    const after = all.slice(all.indexOf(current) + 1).find((r) => !r.classList.contains("labelled"));
    focusRow(after || all[Math.min(all.length - 1, all.indexOf(current) + 1)]);
  }

  function editedText(row) {
    const box = row.querySelector(".edit");
    const value = row.querySelector(".edit-input").value.trim();
    return !box.hidden || value !== row.dataset.text ? value : "";
  }

  async function label(intent, action) {
    if (!current || !intent) return;
    const row = current;
    const body = new URLSearchParams({intent: intent, action: similar ? "similar" : action, csrf: cfg.csrf});
    body.set("turn_ids", (similar || [row.dataset.turnId]).join(","));
    const text = editedText(row);
    if (text) {
      body.set("text", text);
      if (!similar) body.set("action", "edit");
    }
    const response = await fetch(cfg.base + "/label", {
      method: "POST",
      headers: {"X-CSRF-Token": cfg.csrf},
      body: body,
      credentials: "same-origin",
    });
    const answer = await response.json();
    if (!response.ok) {
      say(answer.error || "label not stored", true);
      return;
    }
    for (const stored of answer.labels) {
      const r = document.querySelector(`tr.turn[data-turn-id="${stored.turn_id}"]`);
      if (!r) continue;
      r.classList.add("labelled");
      r.querySelector(".label-cell").innerHTML = "";
      const span = document.createElement("span");
      span.className = "label";
      span.textContent = stored.intent;
      r.querySelector(".label-cell").appendChild(span);
      r.querySelector(".edit").hidden = true;
    }
    say(`${answer.labels.length} labelled ${intent}`);
    closeSimilar();
    nextUnlabelled();
  }

  function ranking(row) {
    try {
      return JSON.parse(row.dataset.ranking).map((p) => p[0]);
    } catch (e) {
      return [];
    }
  }

  function openSearch() {
    search.hidden = false;
    searchInput.value = "";
    showFound("");
    searchInput.focus();
  }

  function closeSearch() {
    search.hidden = true;
    searchInput.blur();
  }

  function showFound(query) {
    // Korean is searched without spaces: "영업 시간" finds "영업시간이 어떻게 되나요".
    const q = query.replace(/\s+/g, "").toLowerCase();
    const squeezed = (text) => text.replace(/\s+/g, "");
    found = intents.filter(
      (i) => !q || i.name.toLowerCase().includes(q) || i.domain.includes(q) || i.examples.some((e) => squeezed(e).includes(q))
    ).slice(0, 9);
    chosen = 0;
    searchResults.innerHTML = "";
    found.forEach((i, n) => {
      const li = document.createElement("li");
      li.textContent = `${i.name} (${i.domain}) ${i.examples[0] || ""}`;
      if (n === chosen) li.className = "chosen";
      searchResults.appendChild(li);
    });
  }

  async function openSimilar() {
    if (!current) return;
    const response = await fetch(`${cfg.base}/similar/${current.dataset.turnId}`, {credentials: "same-origin"});
    const answer = await response.json();
    if (!response.ok) {
      say(answer.error || "no similar turns", true);
      return;
    }
    similar = answer.turns.map((t) => String(t.id));
    if (!similar.includes(current.dataset.turnId)) similar.unshift(current.dataset.turnId);
    document.getElementById("similar-count").textContent = similar.length;
    const list = document.getElementById("similar-list");
    list.innerHTML = "";
    for (const t of answer.turns.slice(0, 20)) {
      const li = document.createElement("li");
      li.textContent = `${t.text} (${t.similarity})`;
      list.appendChild(li);
    }
    similarBox.hidden = false;
  }

  function closeSimilar() {
    similar = null;
    similarBox.hidden = true;
  }

  searchInput.addEventListener("input", () => showFound(searchInput.value));
  searchInput.addEventListener("keydown", (ev) => {
    if (ev.key === "Escape") {
      closeSearch();
    } else if (ev.key === "ArrowDown" || ev.key === "ArrowUp") {
      chosen = Math.max(0, Math.min(found.length - 1, chosen + (ev.key === "ArrowDown" ? 1 : -1)));
      Array.from(searchResults.children).forEach((li, n) => (li.className = n === chosen ? "chosen" : ""));
    } else if (ev.key === "Enter" && found[chosen]) {
      const intent = found[chosen].name;
      closeSearch();
      label(intent, "search");
    } else {
      return;
    }
    ev.preventDefault();
  });

  document.addEventListener("keydown", (ev) => {
    if (ev.ctrlKey || ev.metaKey || ev.altKey) return;
    const target = ev.target;
    if (target.classList && target.classList.contains("edit-input")) {
      if (ev.key === "Enter" || ev.key === "Escape") {
        if (ev.key === "Escape") target.value = current.dataset.text;
        target.closest(".edit").hidden = ev.key === "Escape";
        target.blur();
        say(ev.key === "Enter" ? "transcript edited: now pick the intent" : "edit cancelled");
        ev.preventDefault();
      }
      return;
    }
    if (target.tagName === "INPUT" || target.tagName === "SELECT" || target.tagName === "TEXTAREA") return;
    if (!current) focusRow(rows()[0]);
    if (!current) return;
    const key = ev.key;
    if (key === "j" || key === "ArrowDown") move(1);
    else if (key === "k" || key === "ArrowUp") move(-1);
    else if (key === "Enter") label(current.dataset.intent || ranking(current)[0], "accept");
    else if (/^[1-9]$/.test(key)) label(ranking(current)[Number(key) - 1], "pick");
    else if (key === "/") openSearch();
    else if (key === "o" && outOfScope) label(outOfScope.name, "out_of_scope");
    else if (key === "e") {
      const box = current.querySelector(".edit");
      box.hidden = false;
      const input = box.querySelector("input");
      input.focus();
      input.select();
    } else if (key === "s") nextUnlabelled();
    else if (key === "a") openSimilar();
    else if (key === "p") {
      const audio = current.querySelector("audio");
      if (audio) (audio.paused ? audio.play() : audio.pause());
    } else if (key === "Escape") closeSimilar();
    else return;
    ev.preventDefault();
  });

  // htmx swapped in another filter or page of the inbox (#inbox): the keys go on with its first turn,
  // not with the filter field that was submitted.
  document.addEventListener("htmx:afterSettle", () => {
    if (current && document.contains(current)) return;
    current = null;
    const active = document.activeElement;
    if (active && active.closest && active.closest(".filters")) active.blur();
    focusRow(rows()[0]);
  });

  document.addEventListener("click", (ev) => {
    const row = ev.target.closest && ev.target.closest("tr.turn");
    if (row) focusRow(row);
  });

  const wanted = location.hash.startsWith("#turn-") ? location.hash.slice(6) : "";
  focusRow(rows().find((r) => r.dataset.turnId === wanted) || rows()[0]);
})();
