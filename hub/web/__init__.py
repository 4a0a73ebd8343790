"""The web catalog: server-rendered HTML pages (Jinja2) over the same services the JSON API
calls, with small scripts from static/ that enhance them. Every page works without JavaScript
where it reasonably can; nothing is fetched from outside the hub (no CDN, no web fonts)."""
