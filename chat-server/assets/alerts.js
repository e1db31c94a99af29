// Getting attention: desktop notifications through the Notification API (only when the user
// allowed them; browsers allow it on HTTPS or localhost) and a blinking title while the tab is
// hidden.

const BASE_TITLE = 'Socket ChatApp';
const BLINK_MS = 1000;

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
      const n = new Notification(title, { body, tag });
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
    this.blinkText = text;
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
