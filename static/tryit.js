// The filter playground's "Try it" tab (hub/web/templates/_tryit.html): sends the form to
// POST /api/v1/playground and draws the answer: what the upstream and the client receive,
// with the headers the filter added, changed or removed highlighted, its logs, each
// callback's action, its metrics and the calls it attempted. Everything from the answer is
// written with textContent: a filter's logs and headers are untrusted text.
"use strict";

(function () {
  const root = document.getElementById("tryit");
  const form = document.getElementById("tryit-form");
  if (!root || !form) return;

  const $ = (id) => document.getElementById(id);

  function csrfToken() {
    const meta = document.querySelector('meta[name="csrf-token"]');
    if (meta && meta.content) return meta.content;
    if (root.dataset.csrf) return root.dataset.csrf;
    const field = document.querySelector('input[name="csrf_token"]');
    return field ? field.value : "";
  }

  function el(tag, className, text) {
    const node = document.createElement(tag);
    if (className) node.className = className;
    if (text !== undefined && text !== null) node.textContent = String(text);
    return node;
  }

  function parseHeaders(text, label) {
    const pairs = [];
    text.split("\n").forEach((line, index) => {
      const trimmed = line.trim();
      if (!trimmed) return;
      const colon = trimmed.indexOf(":", trimmed.startsWith(":") ? 1 : 0);
      if (colon <= 0) {
        throw new Error(`${label}, line ${index + 1}: write "name: value"`);
      }
      pairs.push([trimmed.slice(0, colon).trim(), trimmed.slice(colon + 1).trim()]);
    });
    return pairs;
  }

  function collect() {
    let calls = [];
    const rawCalls = $("tryit-http-calls").value.trim();
    if (rawCalls) {
      try {
        calls = JSON.parse(rawCalls);
      } catch (error) {
        throw new Error(`Canned responses are not JSON: ${error.message}`);
      }
    }
    const body = {
      repository: root.dataset.repository,
      ref: $("tryit-ref").value,
      config: $("tryit-config").value,
      request: {
        method: $("tryit-method").value,
        path: $("tryit-path").value || "/",
        headers: parseHeaders($("tryit-request-headers").value, "Request headers"),
        body: $("tryit-request-body").value,
      },
      response: {
        status: Number($("tryit-status").value || 200),
        headers: parseHeaders($("tryit-response-headers").value, "Response headers"),
        body: $("tryit-response-body").value,
      },
      http_calls: calls,
    };
    const rootId = $("tryit-root-id").value.trim();
    if (rootId) body.root_id = rootId;
    return body;
  }

  // One table of headers; `diff` ({added, removed, changed}) marks what the filter did.
  function headerTable(headers, diff) {
    const table = el("table", "tryit-headers");
    const added = (diff && diff.added ? diff.added : []).map((p) => p.join("\u0000"));
    const changed = new Map();
    (diff && diff.changed ? diff.changed : []).forEach((c) => changed.set(c.name, c.before));
    headers.forEach(([name, value]) => {
      const row = el("tr");
      const key = `${name}\u0000${value}`;
      const at = added.indexOf(key);
      const valueCell = el("td", null, value);
      if (at >= 0) {
        added.splice(at, 1);
        row.className = "tryit-added";
        row.title = "added by the filter";
      } else if (changed.has(name)) {
        row.className = "tryit-changed";
        row.title = "changed by the filter";
        valueCell.prepend(el("span", "tryit-was", changed.get(name).join(", ")));
      }
      row.append(el("td", null, name), valueCell);
      table.append(row);
    });
    (diff && diff.removed ? diff.removed : []).forEach(([name, value]) => {
      const row = el("tr", "tryit-removed");
      row.title = "removed by the filter";
      row.append(el("td", null, name), el("td", null, value));
      table.append(row);
    });
    return table;
  }

  function drawMessage(target, message, diff, isRequest, nothing) {
    target.replaceChildren();
    if (!message) {
      target.append(el("p", "tryit-none", nothing));
      return;
    }
    const head = isRequest ? `${message.method} ${message.path}` : `${message.status}`;
    target.append(el("p", "tryit-status-code", head));
    target.append(headerTable(message.headers, diff));
    if (message.body) target.append(el("pre", "tryit-body", message.body));
    if (message.trailers && message.trailers.length) {
      target.append(el("p", "hint", "Trailers"), headerTable(message.trailers, null));
    }
  }

  function draw(result) {
    const verdict = $("tryit-verdict");
    const kind = !result.ok ? "notice-error" : result.outcome === "stalled" ? "notice-warn" : "notice-ok";
    verdict.className = `notice ${kind}`;
    verdict.textContent = result.verdict;

    const upstream = result.upstream.request;
    drawMessage($("tryit-upstream"), upstream, result.diff.request_headers, true,
      result.local_response ? "Nothing: the filter answered locally." : "Nothing reached the upstream.");
    drawMessage($("tryit-client"), result.client.response, result.diff.response_headers, false,
      "Nothing reached the client.");

    const logs = $("tryit-logs");
    logs.replaceChildren();
    result.logs.forEach((entry) => {
      const item = el("li");
      item.append(el("span", `tryit-level tryit-level-${entry.level}`, entry.level), " ",
        el("span", "muted", `${entry.callback}: `), el("span", null, entry.message));
      logs.append(item);
    });
    if (!result.logs.length) logs.append(el("li", "tryit-none", "The filter logged nothing."));
    if (result.logs_dropped) logs.append(el("li", "tryit-none", `${result.logs_dropped} more dropped (log limit)`));

    const table = $("tryit-callbacks");
    table.replaceChildren();
    const header = el("tr");
    ["Callback", "Returned", "Action", "ms"].forEach((h) => header.append(el("th", null, h)));
    table.append(el("thead"));
    table.tHead.append(header);
    const body = el("tbody");
    result.callbacks.forEach((c) => {
      const row = el("tr");
      row.append(el("td", null, c.callback), el("td", null, c.returned ?? "-"),
        el("td", null, c.action ?? "-"), el("td", "num", c.ms ?? "-"));
      body.append(row);
    });
    table.append(body);

    const metrics = $("tryit-metrics");
    metrics.replaceChildren();
    result.metrics.forEach((m) => metrics.append(el("li", null, `${m.name} (${m.type}) = ${m.value}`)));
    const calls = $("tryit-calls");
    calls.replaceChildren();
    result.calls.forEach((c) => {
      const details = Object.entries(c)
        .filter(([k]) => k !== "kind" && k !== "callback")
        .map(([k, v]) => `${k}=${typeof v === "string" ? v : JSON.stringify(v)}`)
        .join(", ");
      calls.append(el("li", null, `${c.kind} in ${c.callback}: ${details}`));
    });
    $("tryit-other").hidden = !result.metrics.length && !result.calls.length;
    $("tryit-result").hidden = false;
  }

  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const error = $("tryit-error");
    const button = $("tryit-run");
    const status = $("tryit-status-line");
    error.hidden = true;
    let body;
    try {
      body = collect();
    } catch (problem) {
      error.textContent = problem.message;
      error.hidden = false;
      return;
    }
    button.disabled = true;
    status.textContent = "Running in the sandbox…";
    const started = performance.now();
    try {
      const response = await fetch("/api/v1/playground", {
        method: "POST",
        credentials: "same-origin",
        headers: {
          "Content-Type": "application/json",
          Accept: "application/json",
          "X-CSRF-Token": csrfToken(),
        },
        body: JSON.stringify(body),
      });
      const answer = await response.json().catch(() => null);
      if (!response.ok) {
        const message = answer && answer.errors && answer.errors[0] ? answer.errors[0].message : `HTTP ${response.status}`;
        throw new Error(message);
      }
      draw(answer);
      status.textContent = `Done in ${Math.round(performance.now() - started)} ms.`;
    } catch (problem) {
      error.textContent = `The run failed: ${problem.message}`;
      error.hidden = false;
      status.textContent = "";
    } finally {
      button.disabled = false;
    }
  });
})();
