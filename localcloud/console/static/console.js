// localcloud console: live fragments (no reload), sortable tables, the endpoint's invoke box.
// Served by localcloud itself (CSP script-src 'self'); talks only to its own origin.
"use strict";

const POLL_MS = 2000;
const sortState = {}; // table id -> {column, descending}

function cellValue(row, column, kind) {
  const text = row.cells[column] ? row.cells[column].textContent.trim() : "";
  if (kind === "number") {
    const value = parseFloat(text);
    return Number.isNaN(value) ? -Infinity : value;
  }
  return text.toLowerCase();
}

function sortTable(table, column, descending) {
  const header = table.tHead.rows[0].cells[column];
  const kind = header.dataset.sort || "text";
  const body = table.tBodies[0];
  const rows = Array.from(body.rows);
  rows.sort((a, b) => {
    const x = cellValue(a, column, kind);
    const y = cellValue(b, column, kind);
    const order = x < y ? -1 : x > y ? 1 : 0;
    return descending ? -order : order;
  });
  rows.forEach((row) => body.appendChild(row));
  Array.from(table.tHead.rows[0].cells).forEach((cell, index) => {
    cell.setAttribute("aria-sort", index === column ? (descending ? "descending" : "ascending") : "none");
  });
}

function wireTables(root) {
  root.querySelectorAll("table.sortable").forEach((table) => {
    Array.from(table.tHead.rows[0].cells).forEach((cell, index) => {
      if (!cell.dataset.sort) return;
      cell.tabIndex = 0;
      const activate = () => {
        const previous = sortState[table.id];
        const descending = previous && previous.column === index ? !previous.descending : false;
        sortState[table.id] = { column: index, descending };
        sortTable(table, index, descending);
      };
      cell.addEventListener("click", activate);
      cell.addEventListener("keydown", (event) => {
        if (event.key === "Enter" || event.key === " ") {
          event.preventDefault();
          activate();
        }
      });
    });
    const state = sortState[table.id];
    if (state) sortTable(table, state.column, state.descending); // keep the user's order across updates
  });
}

function fragmentUrl() {
  const url = new URL(window.location.href);
  url.searchParams.set("fragment", "1");
  return url.toString();
}

async function poll(live, status) {
  try {
    const response = await fetch(fragmentUrl(), { cache: "no-store", credentials: "same-origin" });
    if (!response.ok) throw new Error(`HTTP ${response.status}`);
    const html = await response.text();
    if (html !== live.dataset.html) {
      const open = Array.from(live.querySelectorAll("details[open]")).map((d) => d.closest("tr") ? d.closest("tr").rowIndex + ":" + d.querySelector("summary").textContent : "");
      live.innerHTML = html;
      live.dataset.html = html;
      live.querySelectorAll("details").forEach((d) => {
        const key = d.closest("tr") ? d.closest("tr").rowIndex + ":" + d.querySelector("summary").textContent : "";
        if (open.includes(key)) d.open = true;
      });
      wireTables(live);
    }
    const final = response.headers.get("X-Console-Final") === "1";
    live.dataset.final = final ? "1" : "0";
    status.textContent = final ? "" : `live · updated ${new Date().toLocaleTimeString()}`;
    if (!final) window.setTimeout(() => poll(live, status), POLL_MS);
  } catch (error) {
    status.textContent = `live updates paused (${error.message}); retrying`;
    window.setTimeout(() => poll(live, status), POLL_MS * 2);
  }
}

function wireInvoke() {
  const form = document.getElementById("invoke");
  if (!form) return;
  const file = document.getElementById("invoke-file");
  const status = document.getElementById("invoke-status");
  const result = document.getElementById("invoke-result");
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const chosen = file.files[0];
    if (!chosen) {
      status.textContent = "Choose a file first.";
      return;
    }
    status.textContent = `Invoking ${form.dataset.endpoint} with ${chosen.name}…`;
    result.hidden = true;
    let response;
    try {
      response = await fetch(`/endpoints/${encodeURIComponent(form.dataset.endpoint)}/invocations`, {
        method: "POST",
        headers: { "Content-Type": chosen.type || "application/octet-stream", Accept: "application/json" },
        body: chosen,
      });
    } catch (error) {
      status.textContent = `${chosen.name}: the request failed (${error.message})`;
      return;
    }
    const text = await response.text();
    let shown = text;
    try {
      shown = JSON.stringify(JSON.parse(text), null, 2);
    } catch (ignored) {
      // not JSON: show it as it came
    }
    status.textContent = `${chosen.name}: HTTP ${response.status}`;
    result.textContent = shown;
    result.hidden = false;
  });
}

document.addEventListener("DOMContentLoaded", () => {
  const live = document.getElementById("live");
  wireTables(document);
  wireInvoke();
  if (live && live.dataset.final !== "1") {
    live.dataset.html = "";
    window.setTimeout(() => poll(live, document.getElementById("live-status")), POLL_MS);
  }
});
