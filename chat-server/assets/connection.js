// The WebSocket: one at a time, automatic reconnect with capped exponential backoff and
// jitter. It knows nothing of chat semantics; `onFrame` gets each decoded frame.

export const SUBPROTOCOL = 'chat.v1.json';
const BACKOFF_MIN_MS = 500;
const BACKOFF_MAX_MS = 8000;

export class Connection {
  /**
   * handlers: onOpen(), onFrame(obj), onStatus(state, retryAt), onClose({everConnected, code}).
   */
  constructor(handlers) {
    this.handlers = handlers;
    this.ws = null;
    this.attempt = 0;
    this.timer = null;
    this.stopped = true;
    this.onWake = () => this.retryNow();
  }

  url() {
    const proto = location.protocol === 'https:' ? 'wss:' : 'ws:';
    return `${proto}//${location.host}/ws`;
  }

  start() {
    this.stopped = false;
    window.addEventListener('online', this.onWake);
    this.open();
  }

  stop() {
    this.stopped = true;
    window.removeEventListener('online', this.onWake);
    clearTimeout(this.timer);
    this.timer = null;
    if (this.ws) {
      const ws = this.ws;
      this.ws = null;
      ws.close(1000, 'bye');
    }
  }

  get isOpen() {
    return this.ws !== null && this.ws.readyState === WebSocket.OPEN;
  }

  /** Sends a frame; false when not connected (the caller keeps what must survive). */
  send(obj) {
    if (!this.isOpen) return false;
    this.ws.send(JSON.stringify(obj));
    return true;
  }

  /** Skips the rest of the backoff wait. */
  retryNow() {
    if (this.stopped || this.ws) return;
    clearTimeout(this.timer);
    this.timer = null;
    this.open();
  }

  /** The server said `connected`: the session is healthy, so the backoff starts over. */
  healthy() {
    this.attempt = 0;
  }

  open() {
    this.handlers.onStatus('connecting', 0);
    let ws;
    try {
      ws = new WebSocket(this.url(), SUBPROTOCOL);
    } catch {
      this.scheduleRetry();
      return;
    }
    this.ws = ws;
    let opened = false;
    ws.addEventListener('open', () => {
      opened = true;
      this.handlers.onOpen();
    });
    ws.addEventListener('message', (ev) => {
      if (typeof ev.data !== 'string') return;
      let frame;
      try {
        frame = JSON.parse(ev.data);
      } catch {
        return; // Not ours to fix; the server only sends JSON on this subprotocol.
      }
      if (frame && typeof frame.type === 'string') this.handlers.onFrame(frame);
    });
    ws.addEventListener('close', (ev) => {
      if (this.ws !== ws) return; // A socket we already replaced or stopped.
      this.ws = null;
      const keepGoing = this.handlers.onClose({ opened, code: ev.code, reason: ev.reason });
      if (!this.stopped && keepGoing !== false) this.scheduleRetry();
    });
  }

  scheduleRetry() {
    const base = Math.min(BACKOFF_MAX_MS, BACKOFF_MIN_MS * 2 ** this.attempt);
    const delay = Math.round(base / 2 + Math.random() * (base / 2));
    this.attempt = Math.min(this.attempt + 1, 10);
    const at = Date.now() + delay;
    this.handlers.onStatus('offline', at);
    clearTimeout(this.timer);
    this.timer = setTimeout(() => {
      this.timer = null;
      if (!this.stopped) this.open();
    }, delay);
  }
}
