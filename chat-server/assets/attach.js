// Attachments: a file picker, paste and drag-and-drop into the composer; each file is uploaded
// at once (XMLHttpRequest, for its progress bar) and shown as a chip with its name and size;
// the next message sent carries the ids. In messages, images show as their thumbnail (click to
// enlarge) and other files as a download chip. Every name is text (textContent), every URL is
// built from the id alone (64 hex digits, checked).

import { h } from './dom.js';

const MAX_FILES = 10;
const ID = /^[0-9a-f]{64}$/;
const IMAGES = ['image/png', 'image/jpeg', 'image/gif', 'image/webp'];

/** "1.2 MB", "340 KB", "12 B". */
export function formatSize(n) {
  if (n >= 1 << 20) return `${(n / (1 << 20)).toFixed(1)} MB`;
  if (n >= 1024) return `${Math.round(n / 1024)} KB`;
  return `${n} B`;
}

export class Attacher {
  constructor(form, input, onError) {
    this.onError = onError;
    /** Uploads of the message being written: { file, xhr, attachment?, chip }. */
    this.items = [];
    this.picker = h('input', { type: 'file', id: 'attach-input', class: 'visually-hidden', multiple: true });
    this.button = h('button', { type: 'button', id: 'attach-btn', class: 'btn small attach-btn', title: 'Attach files' }, 'attach');
    this.tray = h('ul', { id: 'attach-tray', class: 'attach-tray', hidden: true });
    form.insertBefore(this.tray, form.firstChild);
    form.appendChild(this.button);
    form.appendChild(this.picker);
    this.button.addEventListener('click', () => this.picker.click());
    this.picker.addEventListener('change', () => {
      this.addFiles(this.picker.files);
      this.picker.value = '';
    });
    input.addEventListener('paste', (ev) => {
      const files = ev.clipboardData ? [...ev.clipboardData.files] : [];
      if (files.length) {
        ev.preventDefault();
        this.addFiles(files);
      }
    });
    const pane = form.closest('section') || form;
    pane.addEventListener('dragover', (ev) => {
      if (ev.dataTransfer && [...ev.dataTransfer.types].includes('Files')) {
        ev.preventDefault();
        pane.classList.add('drop-target');
      }
    });
    pane.addEventListener('dragleave', () => pane.classList.remove('drop-target'));
    pane.addEventListener('drop', (ev) => {
      pane.classList.remove('drop-target');
      if (ev.dataTransfer && ev.dataTransfer.files.length) {
        ev.preventDefault();
        this.addFiles(ev.dataTransfer.files);
      }
    });
  }

  addFiles(files) {
    for (const file of files) {
      if (this.items.length >= MAX_FILES) {
        this.onError(`At most ${MAX_FILES} files per message.`);
        return;
      }
      this.upload(file);
    }
  }

  upload(file) {
    const bar = h('progress', { class: 'attach-progress', max: '100', value: '0' });
    const remove = h('button', { type: 'button', class: 'link attach-remove', title: 'Remove', 'aria-label': 'Remove' }, '×');
    const chip = h(
      'li',
      { class: 'file-chip uploading' },
      h('span', { class: 'file-name', dir: 'auto' }, file.name || 'file'),
      ' ',
      h('span', { class: 'file-size' }, formatSize(file.size)),
      bar,
      remove,
    );
    const xhr = new XMLHttpRequest();
    const item = { file, xhr, attachment: null, chip };
    this.items.push(item);
    remove.addEventListener('click', () => this.drop(item));
    this.tray.appendChild(chip);
    this.tray.hidden = false;
    xhr.upload.addEventListener('progress', (ev) => {
      if (ev.lengthComputable) bar.value = String(Math.round((ev.loaded / ev.total) * 100));
    });
    xhr.addEventListener('load', () => {
      let body = null;
      try {
        body = JSON.parse(xhr.responseText);
      } catch {
        body = null;
      }
      if (xhr.status === 201 && body && ID.test(body.id)) {
        item.attachment = body;
        chip.classList.remove('uploading');
        chip.classList.add('ready');
        bar.remove();
      } else {
        const reason = body && body.error ? body.error.message : `upload failed (${xhr.status})`;
        this.onError(`${file.name || 'file'}: ${reason}`);
        this.drop(item);
      }
    });
    xhr.addEventListener('error', () => {
      this.onError(`${file.name || 'file'}: upload failed`);
      this.drop(item);
    });
    const form = new FormData();
    form.append('file', file, file.name || 'file');
    xhr.open('POST', '/api/attachments');
    xhr.send(form);
  }

  drop(item) {
    if (!item.attachment) item.xhr.abort();
    item.chip.remove();
    this.items = this.items.filter((i) => i !== item);
    this.tray.hidden = this.items.length === 0;
  }

  /** Still uploading: the message waits. */
  busy() {
    return this.items.some((i) => !i.attachment);
  }

  /** The ids of the finished uploads. */
  ids() {
    return this.items.filter((i) => i.attachment).map((i) => i.attachment.id);
  }

  clear() {
    for (const item of [...this.items]) this.drop(item);
  }
}

/** The attachments of message `m` (null when none). */
export function attachmentsOf(m) {
  const list = (m.attachments || []).filter((a) => a && ID.test(a.id));
  if (!list.length || m.deleted) return null;
  return h(
    'div',
    { class: 'attachments' },
    list.map((a) => {
      const url = `/api/attachments/${a.id}`;
      if (IMAGES.includes(a.content_type)) {
        const img = h('img', {
          class: 'thumb',
          src: `${url}/thumbnail`,
          alt: a.name,
          loading: 'lazy',
          width: a.width ? Math.min(a.width, 320) : null,
        });
        return h('button', { type: 'button', class: 'thumb-btn', title: a.name, on: { click: () => enlarge(url, a.name) } }, img);
      }
      return h(
        'a',
        { class: 'file-chip', href: url, download: a.name, rel: 'noopener' },
        h('span', { class: 'file-name', dir: 'auto' }, a.name),
        ' ',
        h('span', { class: 'file-size' }, formatSize(a.size)),
      );
    }),
  );
}

/** A full-window view of an image; click or Escape closes it. */
function enlarge(url, name) {
  const close = () => {
    overlay.remove();
    document.removeEventListener('keydown', onKey);
  };
  const onKey = (ev) => {
    if (ev.key === 'Escape') close();
  };
  const overlay = h(
    'div',
    { class: 'image-overlay', role: 'dialog', 'aria-label': name, on: { click: close } },
    h('img', { src: url, alt: name }),
  );
  document.addEventListener('keydown', onKey);
  document.body.appendChild(overlay);
}
