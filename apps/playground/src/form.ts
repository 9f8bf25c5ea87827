// Option forms generated from an `OptionsSchema`: a checkbox for a boolean, a select for an enum,
// a text field for a number (checked as it is typed against the spec's range). Plugins, data sets,
// models, optimizers, schedules and the training fields all get their form here, so a new plugin's
// options appear with no playground code.
import type { OptionSpec, OptionsSchema } from '@normkit/tensor';
import { h } from './dom';
import { formatOptionValue, parseOptionInput, type OptionValue } from './options';
import { rangeHint } from './drafts';

export interface OptionsFormHandlers {
  /** A field now holds a valid value (numbers: on change, i.e. Enter or leaving the field). */
  commit(key: string, value: OptionValue): void;
  /** A field's text is valid (message null) or not (the message), as it is typed. */
  validity(key: string, message: string | null): void;
}

let fieldCounter = 0;

function numberPlaceholder(spec: OptionSpec): string {
  if (spec.type !== 'number') return '';
  return spec.nullable ? 'null' : '';
}

function field(key: string, spec: OptionSpec, value: unknown, handlers: OptionsFormHandlers, path: string): HTMLElement {
  const id = `option-${++fieldCounter}`;
  const error = h('div', { class: 'field-error', role: 'alert', hidden: true });
  const showValidity = (message: string | null, input: HTMLElement): void => {
    error.textContent = message ?? '';
    error.hidden = message === null;
    input.setAttribute('aria-invalid', message === null ? 'false' : 'true');
    handlers.validity(key, message);
  };
  const title = `${spec.description} (${rangeHint(spec)}; default ${JSON.stringify(spec.default)})`;
  let input: HTMLElement;
  if (spec.type === 'boolean') {
    input = h('input', {
      id,
      type: 'checkbox',
      checked: value === true,
      title,
      onchange: (event: Event) => handlers.commit(key, (event.target as HTMLInputElement).checked),
    });
    return h('div', { class: 'field field-boolean', 'data-option': key, 'data-path': path }, input, h('label', { for: id, title }, key), error);
  }
  if (spec.type === 'enum') {
    input = h(
      'select',
      { id, title, onchange: (event: Event) => handlers.commit(key, (event.target as HTMLSelectElement).value) },
      ...spec.values.map((v) => h('option', { value: v, selected: v === value }, v)),
    );
  } else {
    const text = h('input', {
      id,
      type: 'text',
      inputmode: 'decimal',
      spellcheck: 'false',
      autocomplete: 'off',
      value: formatOptionValue(spec, value as OptionValue | undefined),
      placeholder: numberPlaceholder(spec),
      title,
      oninput: () => {
        const parsed = parseOptionInput(key, spec, text.value);
        showValidity(parsed.ok ? null : parsed.message, text);
      },
      onchange: () => {
        const parsed = parseOptionInput(key, spec, text.value);
        showValidity(parsed.ok ? null : parsed.message, text);
        if (parsed.ok) handlers.commit(key, parsed.value);
      },
    });
    input = text;
  }
  return h(
    'div',
    { class: 'field', 'data-option': key, 'data-path': path },
    h('label', { for: id, title }, key),
    input,
    h('small', { class: 'field-hint' }, rangeHint(spec)),
    error,
  );
}

/**
 * A form for `schema` showing `values`; `path` names the option object for tests and messages
 * (e.g. `norms.hidden`). Returns null for an empty schema.
 *
 * @example
 * optionsForm(plugin.options, choice.options, 'norms.hidden', { commit, validity });
 */
export function optionsForm(schema: OptionsSchema, values: Record<string, unknown> | undefined, path: string, handlers: OptionsFormHandlers): HTMLElement | null {
  const entries = Object.entries(schema);
  if (entries.length === 0) return null;
  return h('div', { class: 'options-form', 'data-options': path }, ...entries.map(([key, spec]) => field(key, spec, values && key in values ? values[key] : spec.default, handlers, `${path}.${key}`)));
}
