// Getting attention: desktop notifications through the Notification API (only when the user
// allowed them; browsers allow it on HTTPS or localhost) and a blinking title while the tab is
// hidden.

const BASE_TITLE = 'Socket ChatApp';
const BLINK_MS = 1000;

// Bidi controls (marks, embeddings, overrides, isolates), C0 controls but tab and newline, DEL
// and C1 controls.
const UNSAFE = /[\u0000-\u0008\u000B-\u001F\u007F-\u009F\u061C\u200E\u200F\u202A-\u202E\u2066-\u2069]/g;

/**
 * `text` for places that show plain text only (desktop notifications, the title bar): there is
 * no element to isolate it in, so bidi and other control characters are removed instead.
 */
export function plainText(text) {
  return String(text ?? '').replace(UNSAFE, '');
}

export class Alerts {
  constructor() {
    this.unread = 0;
    this.blinkText = null;
    this.blinkTimer = null;
    this.blinkOn = false;
    document.addEventListener('visibilitychange', () => {
      if (!document.hidden) this.stopBlink();
    });
    window.addEventListener('focus', () => this.stopBlink());
  }

  supported() {
    return typeof window.Notification === 'function';
  }

  /** Whether asking for permission makes sense (supported, not yet decided). */
  canAsk() {
    return this.supported() && Notification.permission === 'default';
  }

  async askPermission() {
    if (!this.canAsk()) return;
    try {
      await Notification.requestPermission();
    } catch {
      // Old callback-style API or refused: nothing else to do.
    }
  }

  /** A desktop notification, when allowed and the user is not looking at the page. */
  desktop(title, body, tag, onClick) {
    if (!this.supported() || Notification.permission !== 'granted') return;
    if (!document.hidden && document.hasFocus()) return;
    try {
      const n = new Notification(plainText(title), { body: plainText(body), tag });
      n.onclick = () => {
        window.focus();
        onClick();
        n.close();
      };
    } catch {
      // Some platforms only allow notifications from a service worker.
    }
  }

  /** The count shown in the title, e.g. "(3) Socket ChatApp". */
  setUnread(n) {
    this.unread = n;
    if (!this.blinkOn) this.showBase();
  }

  showBase() {
    document.title = this.unread > 0 ? `(${this.unread}) ${BASE_TITLE}` : BASE_TITLE;
  }

  /** Blinks `text` in the title until the tab is visible again. */
  blink(text) {
    if (!document.hidden) return;
    this.blinkText = plainText(text);
    if (this.blinkTimer) return;
    this.blinkTimer = setInterval(() => {
      this.blinkOn = !this.blinkOn;
      if (this.blinkOn) document.title = `*** ${this.blinkText} ***`;
      else this.showBase();
    }, BLINK_MS);
  }

  stopBlink() {
    clearInterval(this.blinkTimer);
    this.blinkTimer = null;
    this.blinkOn = false;
    this.showBase();
  }
}
