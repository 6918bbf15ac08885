"""The web view's page: HTML, script and style as separate resources, so the page runs under a
Content-Security-Policy without 'unsafe-inline' (see ``device.live.webserver.CONTENT_SECURITY_POLICY``).

The script polls ``/reading.json?stream=ID`` for the reading and for the state of its own MJPEG stream
(``/stream.mjpg?id=ID``): when the server says the stream ended or was refused, when the picture fails to
load, or when the server cannot be reached, it reconnects with back-off (1, 2, 4 ... 30 s) and says so under
the picture.
"""

from __future__ import annotations

PAGE_HTML = """<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>zmg-digits live</title>
<link rel="stylesheet" href="/app.css">
<script src="/app.js" defer></script>
</head>
<body data-poll-ms="{poll_ms}">
<h1>zmg-digits live</h1>
<div>Reading: <span id="reading">&ndash;</span></div>
<div id="detail">waiting for the camera&hellip;</div>
<img id="stream" alt="live camera picture with the recognised digits">
<div id="stream-state">connecting&hellip;</div>
</body></html>
"""

APP_CSS = """body { font-family: system-ui, sans-serif; margin: 1rem; background: #111; color: #eee; }
#reading { font-size: 3rem; font-family: monospace; margin: .5rem 0; }
#detail, #stream-state { color: #aaa; }
#stream-state.trouble { color: #fb4; }
img { max-width: 100%; border: 1px solid #444; display: block; margin: .5rem 0; }
"""

APP_JS = r"""'use strict';
const pollMs = Number(document.body.dataset.pollMs) || 500;
const streamId = Math.random().toString(36).slice(2, 12);
const picture = document.getElementById('stream');
const streamState = document.getElementById('stream-state');
const FIRST_RETRY_MS = 1000, LAST_RETRY_MS = 30000, GRACE_MS = 5000;
let retryMs = FIRST_RETRY_MS, retryTimer = null, requestedAt = 0;

function showState(text, trouble) {
  streamState.textContent = text;
  streamState.className = trouble ? 'trouble' : '';
}

function openStream() {
  retryTimer = null;
  requestedAt = Date.now();
  picture.src = '/stream.mjpg?id=' + streamId + '&n=' + requestedAt;
  showState('picture: connecting\u2026', false);
}

function reconnectLater(why) {
  if (retryTimer !== null) return;
  showState('picture: ' + why + ' \u2013 retrying in ' + Math.round(retryMs / 1000) + ' s', true);
  retryTimer = setTimeout(openStream, retryMs);
  retryMs = Math.min(retryMs * 2, LAST_RETRY_MS);
}

picture.addEventListener('error', () => reconnectLater('lost'));

function followStream(state) {
  if (retryTimer !== null) return;
  if (state === 'live') {
    retryMs = FIRST_RETRY_MS;
    showState('picture: live', false);
  } else if (state === 'refused') {
    reconnectLater('the Pi has too many viewers');
  } else if (state === 'ended' || (state === 'unknown' && Date.now() - requestedAt > GRACE_MS)) {
    reconnectLater('lost');
  }
}

async function poll() {
  try {
    const r = await fetch('/reading.json?stream=' + streamId, {cache: 'no-store'});
    if (!r.ok) throw new Error('HTTP ' + r.status);
    const data = await r.json();
    document.getElementById('reading').textContent = data.text ?? data.reading ?? '\u2013';  // as written: 18.014
    const now = data.current.digits;
    const conf = now.map(d => d.digit + ' ' + Math.round(d.confidence * 100) + '%').join(', ');
    document.getElementById('detail').textContent =
      'frame ' + data.frame + (now.length ? ' \u00b7 now: ' + conf : ' \u00b7 no digits in view');
    followStream(data.stream);
  } catch (e) {
    document.getElementById('detail').textContent = 'no connection to the Pi';
    reconnectLater('no connection');  // the stream went with the server; try it again once it is back
  }
  setTimeout(poll, pollMs);
}

openStream();
poll();
"""
