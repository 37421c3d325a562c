// The event stream (`GET /events/stream`, server-sent events) read with fetch(), because
// EventSource cannot send the X-API-KEY header. Reconnects with `Last-Event-ID` set to the
// last `id:` seen, so no event is missed across a reconnect.
import { session, url } from './api.js';

/** Parses complete SSE blocks from `buffer`; returns the rest. */
export function parseBlocks(buffer, emit) {
  const blocks = buffer.split(/\r?\n\r?\n/);
  const rest = blocks.pop();
  for (const block of blocks) {
    const event = { id: null, type: 'message', data: '' };
    for (const line of block.split(/\r?\n/)) {
      if (!line || line.startsWith(':')) continue;
      const at = line.indexOf(':');
      const name = at < 0 ? line : line.slice(0, at);
      const value = at < 0 ? '' : line.slice(at + 1).replace(/^ /, '');
      if (name === 'id') event.id = value;
      else if (name === 'event') event.type = value;
      else if (name === 'data') event.data += (event.data ? '\n' : '') + value;
    }
    if (event.data) emit(event);
  }
  return rest;
}

/** Starts the stream; `onEvent({id, type, data})` per event. Returns an AbortController. */
export function startStream(onEvent) {
  const control = new AbortController();
  let last = null;
  let delay = 500;
  const run = async () => {
    while (!control.signal.aborted) {
      try {
        const headers = { 'X-API-KEY': session.key || '', Accept: 'text/event-stream' };
        if (last) headers['Last-Event-ID'] = last;
        const response = await fetch(url('eventStream'), { headers, signal: control.signal, cache: 'no-store' });
        if (!response.ok || !response.body) throw new Error(`stream answered ${response.status}`);
        delay = 500;
        const reader = response.body.getReader();
        const decoder = new TextDecoder();
        let buffer = '';
        for (;;) {
          const { value, done } = await reader.read();
          if (done) break;
          buffer = parseBlocks(buffer + decoder.decode(value, { stream: true }), (event) => {
            if (event.id) last = event.id;
            try { onEvent({ id: event.id, type: event.type, data: JSON.parse(event.data) }); } catch { /* not JSON: ignored */ }
          });
        }
      } catch {
        if (control.signal.aborted) return;
      }
      await new Promise((resolve) => setTimeout(resolve, delay));
      delay = Math.min(delay * 2, 15000);
    }
  };
  run();
  return control;
}
