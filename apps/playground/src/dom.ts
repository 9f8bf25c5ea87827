// The one DOM helper the page needs instead of a framework: build an element with attributes,
// properties, listeners and children in one expression.

type Child = Node | string | number | null | undefined | false;

export type Attributes = Record<string, unknown>;

/** Properties set directly rather than as attributes (their live value matters). */
const PROPERTIES = new Set(['value', 'checked', 'selected', 'disabled', 'open', 'hidden', 'textContent']);

function attributeText(value: unknown): string {
  if (value === true) return '';
  if (typeof value === 'string') return value;
  if (typeof value === 'number' || typeof value === 'boolean') return String(value);
  return JSON.stringify(value);
}

/**
 * `h('button', { class: 'primary', onclick: play }, 'Play')`: `on*` keys become listeners, `value`,
 * `checked`, `selected`, `disabled`, `open`, `hidden` are set as properties, `false`/`null`/
 * `undefined` attributes are left out, and children may be nodes, text or nothing.
 */
export function h<K extends keyof HTMLElementTagNameMap>(tag: K, attributes: Attributes = {}, ...children: Child[]): HTMLElementTagNameMap[K] {
  const element = document.createElement(tag);
  for (const [key, value] of Object.entries(attributes)) {
    if (value === undefined || value === null || value === false) continue;
    if (key.startsWith('on') && typeof value === 'function') {
      element.addEventListener(key.slice(2), value as EventListener);
    } else if (PROPERTIES.has(key)) {
      (element as unknown as Record<string, unknown>)[key] = value;
    } else {
      element.setAttribute(key, attributeText(value));
    }
  }
  append(element, ...children);
  return element;
}

export function append(parent: Node, ...children: Child[]): void {
  for (const child of children) {
    if (child === null || child === undefined || child === false) continue;
    parent.appendChild(typeof child === 'string' || typeof child === 'number' ? document.createTextNode(String(child)) : child);
  }
}

/** Saves `content` as a file download named `name`. */
export function download(name: string, content: Blob | string, type = 'text/plain'): void {
  const blob = typeof content === 'string' ? new Blob([content], { type }) : content;
  const url = URL.createObjectURL(blob);
  const link = h('a', { href: url, download: name });
  document.body.appendChild(link);
  link.click();
  link.remove();
  setTimeout(() => URL.revokeObjectURL(url), 10_000);
}
