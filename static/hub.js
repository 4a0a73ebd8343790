// WebAssembly Hub: small enhancements over server-rendered pages. Every page works without
// this file; with it, tabs switch in place, commands copy, stars toggle and the deploy output
// follows the target picker.
"use strict";

document.documentElement.classList.add("js");

function csrfToken() {
  const field = document.querySelector('input[name="csrf_token"]');
  return field ? field.value : "";
}

// Screen readers hear what changed without moving focus (base.html's live region).
function announce(text) {
  const live = document.getElementById("live-status");
  if (live) live.textContent = text;
}

// --- copy to clipboard -------------------------------------------------------------------
// navigator.clipboard exists only in secure contexts (https, or localhost); a hub served over
// plain http elsewhere falls back to a selected textarea and execCommand.
async function copyText(text) {
  if (navigator.clipboard && window.isSecureContext) {
    await navigator.clipboard.writeText(text);
    return;
  }
  const area = document.createElement("textarea");
  area.value = text;
  area.setAttribute("readonly", "");
  area.style.position = "fixed";
  area.style.opacity = "0";
  document.body.appendChild(area);
  area.select();
  const ok = document.execCommand("copy");
  area.remove();
  if (!ok) throw new Error("copy refused");
}

document.addEventListener("click", async (event) => {
  const button = event.target.closest(".copy-button");
  if (!button) return;
  const source = button.dataset.copyFrom ? document.getElementById(button.dataset.copyFrom) : null;
  const text = source ? source.textContent : button.dataset.copy;
  const label = button.querySelector(".copy-label");
  try {
    await copyText(text || "");
    button.classList.add("copied");
    if (label) label.textContent = "Copied";
    announce("Copied to the clipboard");
  } catch (err) {
    if (label) label.textContent = "Press Ctrl+C";
  }
  setTimeout(() => {
    button.classList.remove("copied");
    if (label) label.textContent = "Copy";
  }, 1600);
});

// --- tabs (WAI-ARIA tabs pattern: arrows move, Home/End jump) -----------------------------
function setupTabs(list) {
  const tabs = Array.from(list.querySelectorAll('[role="tab"]'));
  function select(tab, focus) {
    for (const other of tabs) {
      const on = other === tab;
      other.setAttribute("aria-selected", on ? "true" : "false");
      other.tabIndex = on ? 0 : -1;
      const panel = document.getElementById(other.getAttribute("aria-controls"));
      if (panel) panel.hidden = !on;
    }
    if (focus) tab.focus();
    const panel = document.getElementById(tab.getAttribute("aria-controls"));
    if (panel) panel.dispatchEvent(new CustomEvent("tab-shown"));
    const url = new URL(window.location.href);
    url.searchParams.set("tab", tab.id.replace(/^tab-/, ""));
    history.replaceState(null, "", url);
  }
  list.addEventListener("click", (event) => {
    const tab = event.target.closest('[role="tab"]');
    if (!tab) return;
    event.preventDefault();
    select(tab, false);
  });
  list.addEventListener("keydown", (event) => {
    const index = tabs.indexOf(document.activeElement);
    if (index < 0) return;
    let next = null;
    if (event.key === "ArrowRight") next = tabs[(index + 1) % tabs.length];
    else if (event.key === "ArrowLeft") next = tabs[(index - 1 + tabs.length) % tabs.length];
    else if (event.key === "Home") next = tabs[0];
    else if (event.key === "End") next = tabs[tabs.length - 1];
    if (next) {
      event.preventDefault();
      select(next, true);
    }
  });
}

// --- star ----------------------------------------------------------------------------------
function setupStar(form) {
  const button = form.querySelector(".star-button");
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    if (button.dataset.signin) {
      window.location.href = button.dataset.signin;
      return;
    }
    const starred = button.getAttribute("aria-pressed") === "true";
    const name = form.dataset.repository;
    button.disabled = true;
    try {
      const response = await fetch(`/api/v1/repositories/${name}/star`, {
        method: starred ? "DELETE" : "PUT",
        credentials: "same-origin",
        headers: { "X-CSRF-Token": csrfToken(), Accept: "application/json" },
      });
      if (!response.ok) throw new Error(`status ${response.status}`);
      const body = await response.json();
      button.setAttribute("aria-pressed", body.starred ? "true" : "false");
      form.querySelector('input[name="star"]').value = body.starred ? "0" : "1";
      button.querySelector(".star-text").textContent = body.starred ? "Starred" : "Star";
      const count = button.querySelector(".star-count");
      count.textContent = String(body.stars);
      count.setAttribute("aria-label", `${body.stars} stars`);
      announce(body.starred ? "Starred" : "Star removed");
    } catch (err) {
      form.submit(); // the plain form does the same on the server
    } finally {
      button.disabled = false;
    }
  });
}

// --- deploy target picker -------------------------------------------------------------------
function setupDeploy(form) {
  const output = document.getElementById("deploy-output");
  const block = document.getElementById("deploy-block");
  const error = document.getElementById("deploy-error");
  const echo = document.getElementById("deploy-target-echo");
  let sequence = 0;
  async function refresh() {
    const target = form.elements.target.value;
    const ref = form.elements.ref ? form.elements.ref.value : "latest";
    const params = new URLSearchParams({ repository: form.dataset.repository, ref, target });
    const mine = ++sequence;
    form.setAttribute("aria-busy", "true");
    try {
      const response = await fetch(`/api/v1/deploy?${params}`, {
        credentials: "same-origin",
        headers: { Accept: "application/yaml" },
      });
      const text = await response.text();
      if (mine !== sequence) return; // a newer choice is on its way
      if (response.ok) {
        output.textContent = text;
        block.hidden = false;
        error.hidden = true;
      } else {
        let message = `The hub answered ${response.status}.`;
        try {
          message = JSON.parse(text).errors[0].message;
        } catch (err) { /* not the API's envelope: keep the status */ }
        error.textContent = message;
        error.hidden = false;
        block.hidden = true;
      }
      if (echo) echo.textContent = target;
      const refEcho = document.getElementById("deploy-ref-echo");
      if (refEcho) refEcho.textContent = ref;
      const url = new URL(window.location.href);
      url.searchParams.set("tab", "deploy");
      url.searchParams.set("target", target);
      url.searchParams.set("ref", ref);
      history.replaceState(null, "", url);
    } finally {
      if (mine === sequence) form.removeAttribute("aria-busy");
    }
  }
  form.addEventListener("change", refresh);
  // The server renders the output only when the page opens on this tab.
  const panel = form.closest('[role="tabpanel"]');
  if (form.dataset.pending && panel) {
    const load = () => {
      if (!form.dataset.pending) return;
      delete form.dataset.pending;
      refresh();
    };
    panel.addEventListener("tab-shown", load);
    if (!panel.hidden) load();
  }
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    refresh();
  });
}

document.addEventListener("DOMContentLoaded", () => {
  document.querySelectorAll('[role="tablist"]').forEach(setupTabs);
  const star = document.getElementById("star-form");
  if (star) setupStar(star);
  const deploy = document.getElementById("deploy-form");
  if (deploy) setupDeploy(deploy);
});
