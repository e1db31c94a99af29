// A tiny DOM builder. User content only ever becomes text nodes (textContent); no string is
// ever parsed as HTML in this client, and attribute names are fixed by our code, never by peers.
// Every user-provided string is rendered inside a bidi isolate (`iso`, or `dir="auto"`).

/**
 * Creates an element: `h('li', {class: 'msg', dataset: {seq: 4}}, 'text', child)`.
 * Strings become text nodes; null/false children are skipped; `on: {click: fn}` adds listeners.
 */
export function h(tag, props, ...children) {
  const el = document.createElement(tag);
  if (props) {
    for (const [key, value] of Object.entries(props)) {
      if (value === null || value === undefined || value === false) continue;
      if (key === 'class') el.className = value;
      else if (key === 'dataset') Object.assign(el.dataset, value);
      else if (key === 'on') {
        for (const [ev, fn] of Object.entries(value)) el.addEventListener(ev, fn);
      } else if (key === 'text') el.textContent = value;
      else if (value === true) el.setAttribute(key, '');
      else el.setAttribute(key, String(value));
    }
  }
  append(el, children);
  return el;
}

function append(el, children) {
  for (const child of children) {
    if (child === null || child === undefined || child === false) continue;
    if (Array.isArray(child)) append(el, child);
    else if (child instanceof Node) el.appendChild(child);
    else el.appendChild(document.createTextNode(String(child)));
  }
}

/**
 * A user-provided string (a name, a room name, a preview) as an inline bidi isolate: `<bdi>`
 * takes its direction from its own first strong character and cannot reorder the text around
 * it, so `evil \u202Egnp.exe` cannot flip the rest of a line. Whole message bodies are
 * isolated with `dir="auto"` on their element instead.
 */
export function iso(text, props) {
  return h('bdi', props || null, text);
}

/** Replaces all children of `el`. */
export function replaceChildren(el, ...children) {
  el.replaceChildren();
  append(el, children);
}

/** `document.getElementById`, failing loudly when the page and the script disagree. */
export function byId(id) {
  const el = document.getElementById(id);
  if (!el) throw new Error(`missing element #${id}`);
  return el;
}

/** HH:MM:SS of a ms timestamp, local time. */
export function clock(ms) {
  const d = new Date(ms);
  const two = (n) => String(n).padStart(2, '0');
  return `${two(d.getHours())}:${two(d.getMinutes())}:${two(d.getSeconds())}`;
}

/** Full local date and time of a ms timestamp. */
export function fullDate(ms) {
  return new Date(ms).toLocaleString();
}
