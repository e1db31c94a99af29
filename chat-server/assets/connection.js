// The WebSocket: one at a time, automatic reconnect with capped exponential back-off and
// jitter. It knows nothing of chat semantics; `onFrame` gets each decoded frame.
//
// Back-off: the n-th consecutive failed attempt waits a random time in [d/2, d] with
// d = min(BACKOFF_MAX_MS, BACKOFF_MIN_MS * 2^n). A socket only counts as a success, and resets
// the back-off, when it said `connected` and then stayed open for STABLE_MS: a server that
// accepts the socket and drops it again (say, on every resume) is retried with the same growing
// waits as one that refuses it, never in a loop.

export const SUBPROTOCOL = 'chat.v1.json';
export const BACKOFF_MIN_MS = 500;
export const BACKOFF_MAX_MS = 15000;
export const STABLE_MS = 10000;

/** The wait before retry number `attempt` (0-based), for a `random` in [0, 1). */
export function backoffDelay(attempt, random) {
  const base = Math.min(BACKOFF_MAX_MS, BACKOFF_MIN_MS * 2 ** Math.min(attempt, 30));
  return Math.round(base / 2 + random * (base / 2));
}

export class Connection {
  /**
   * handlers: onOpen(), onFrame(obj), onStatus(state, retryAt), onClose({everConnected, code}).
   */
  constructor(handlers) {
    this.handlers = handlers;
    this.ws = null;
    this.attempt = 0;
    /** When the open socket said `connected` (0: not yet). */
    this.healthySince = 0;
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
    this.attempt = 0;
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

  /** The server said `connected`; the back-off starts over once the socket stays up. */
  healthy() {
    this.healthySince = Date.now();
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
      if (this.healthySince && Date.now() - this.healthySince >= STABLE_MS) this.attempt = 0;
      this.healthySince = 0;
      const keepGoing = this.handlers.onClose({ opened, code: ev.code, reason: ev.reason });
      if (!this.stopped && keepGoing !== false) this.scheduleRetry();
    });
  }

  scheduleRetry() {
    const delay = backoffDelay(this.attempt, Math.random());
    this.attempt = Math.min(this.attempt + 1, 30);
    const at = Date.now() + delay;
    this.handlers.onStatus('offline', at);
    clearTimeout(this.timer);
    this.timer = setTimeout(() => {
      this.timer = null;
      if (!this.stopped) this.open();
    }, delay);
  }
}
