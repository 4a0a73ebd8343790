// Results as you type: the search page asks /api/v1/search (the JSON API the server-rendered
// page also answers from) and redraws results, facets and pages in place.
"use strict";

(function () {
  const form = document.getElementById("search-form");
  if (!form) return;
  const input = document.getElementById("search-q");
  const sort = document.getElementById("search-sort");
  const results = document.getElementById("results");
  const count = document.getElementById("result-count");
  const pagination = document.getElementById("pagination");
  const facets = document.getElementById("facets");
  const template = document.getElementById("card-template");
  const FACETS = ["abi", "variant", "toolchain", "namespace"];
  let timer = null;
  let sequence = 0;

  function currentParams(page) {
    const params = new URLSearchParams();
    if (input.value.trim()) params.set("q", input.value.trim());
    if (sort.value && sort.value !== "relevance") params.set("sort", sort.value);
    for (const hidden of form.querySelectorAll("input[data-facet]")) {
      params.set(hidden.name, hidden.value);
    }
    if (page && page > 1) params.set("page", String(page));
    return params;
  }

  function ago(iso) {
    const seconds = Math.floor((Date.now() - Date.parse(iso)) / 1000);
    const units = [["year", 31536000], ["month", 2592000], ["day", 86400], ["hour", 3600], ["minute", 60]];
    for (const [unit, size] of units) {
      if (seconds >= size) {
        const n = Math.floor(seconds / size);
        return `${n} ${unit}${n === 1 ? "" : "s"} ago`;
      }
    }
    return "just now";
  }

  function compact(n) {
    if (n < 1000) return String(n);
    if (n < 1000000) return `${(n / 1000).toFixed(1).replace(/\.0$/, "")}k`;
    return `${(n / 1000000).toFixed(1).replace(/\.0$/, "")}M`;
  }

  function badge(text, cls) {
    const li = document.createElement("li");
    li.className = `badge ${cls || ""}`.trim();
    li.textContent = text.length < 24 ? text : `${text.slice(0, 20)}…`;
    return li;
  }

  function card(hit) {
    const node = template.content.firstElementChild.cloneNode(true);
    const link = node.querySelector(".card-title a");
    link.href = `/r/${hit.repository}`;
    node.querySelector(".card-ns").textContent = `${hit.namespace}/`;
    link.append(hit.repository.slice(hit.namespace.length + 1));
    const locked = node.querySelector(".badge-private");
    if (hit.private) locked.title = `Only members of ${hit.namespace} see this repository`;
    else locked.remove();
    node.querySelector(".card-desc").textContent = hit.description || "No description yet.";
    const badges = node.querySelector(".badges");
    if (hit.variant) badges.append(badge(hit.variant, "badge-variant"));
    for (const abi of hit.abi_versions.slice(0, 2)) badges.append(badge(abi));
    if (hit.toolchain) badges.append(badge(hit.toolchain, "badge-muted"));
    node.querySelector(".stars").textContent = compact(hit.stars);
    node.querySelector(".pulls").textContent = compact(hit.pulls);
    const time = node.querySelector("time");
    time.dateTime = hit.updated_at;
    time.textContent = ago(hit.updated_at);
    return node;
  }

  function facetLink(name, value, countText, active) {
    const params = currentParams();
    params.delete("page");
    if (active) params.delete(name);
    else params.set(name, value);
    const a = document.createElement("a");
    a.className = `facet-link${active ? " active" : ""}`;
    a.href = `/search?${params}`;
    const v = document.createElement("span");
    v.className = "facet-value";
    v.textContent = value;
    const c = document.createElement("span");
    c.className = active ? "facet-clear" : "facet-count";
    c.textContent = active ? "×" : countText;
    if (active) c.setAttribute("aria-hidden", "true");
    a.append(v, c);
    const li = document.createElement("li");
    li.append(a);
    return li;
  }

  function drawFacets(body) {
    for (const name of FACETS) {
      const section = facets.querySelector(`[data-facet="${name}"] ul`);
      if (!section) continue;
      section.replaceChildren();
      const chosen = form.querySelector(`input[data-facet="${name}"]`);
      if (chosen) {
        section.append(facetLink(name, chosen.value, "", true));
        continue;
      }
      const values = Object.entries(body.facets[name] || {}).slice(0, 8);
      if (!values.length) {
        const li = document.createElement("li");
        li.className = "muted";
        li.textContent = "none";
        section.append(li);
      }
      for (const [value, n] of values) section.append(facetLink(name, value, String(n), false));
    }
  }

  function drawPages(body) {
    pagination.replaceChildren();
    const last = Math.max(1, Math.ceil(body.total / body.per_page));
    if (last <= 1) return;
    const link = (page, text, rel) => {
      const a = document.createElement("a");
      a.href = `/search?${currentParams(page)}`;
      a.textContent = text;
      if (rel) a.rel = rel;
      return a;
    };
    if (body.page > 1) pagination.append(link(body.page - 1, "Previous", "prev"));
    const here = document.createElement("span");
    here.className = "current";
    here.setAttribute("aria-current", "page");
    here.textContent = `${body.page} / ${last}`;
    pagination.append(here);
    if (body.page < last) pagination.append(link(body.page + 1, "Next", "next"));
  }

  async function run() {
    const params = currentParams();
    const mine = ++sequence;
    const response = await fetch(`/api/v1/search?${params}`, {
      credentials: "same-origin",
      headers: { Accept: "application/json" },
    });
    if (mine !== sequence) return; // the visitor typed on; a newer answer is coming
    if (!response.ok) {
      let message = `Search failed (${response.status}).`;
      try {
        message = (await response.json()).errors[0].message;
      } catch (err) { /* keep the status */ }
      count.textContent = message;
      return;
    }
    const body = await response.json();
    results.replaceChildren(...body.results.map(card));
    if (!body.results.length) {
      const empty = document.createElement("p");
      empty.className = "empty";
      empty.textContent = "No filters match. Try fewer words, or clear a filter.";
      results.append(empty);
    }
    const q = params.get("q");
    count.textContent = `${body.total} filter${body.total === 1 ? "" : "s"}${q ? ` for “${q}”` : ""}`;
    drawFacets(body);
    drawPages(body);
    history.replaceState(null, "", `/search${params.toString() ? `?${params}` : ""}`);
    document.title = `${q ? `“${q}” · ` : ""}Search · WebAssembly Hub`;
  }

  input.addEventListener("input", () => {
    clearTimeout(timer);
    timer = setTimeout(run, 180);
  });
  sort.addEventListener("change", run);
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    clearTimeout(timer);
    run();
  });
})();
