// The panel that loads a claims-lab preset: the claim, how the lab tests it, and up to four of its
// configurations to train side by side.
import type { ClaimPreset, ExperimentConfig } from '@normkit/experiments';
import { MAX_RUNS } from './drafts';
import { h } from './dom';
import { defaultPresetSelection, listPresets, presetConfigs, presetMissing, presetRuns } from './presets';

export class PresetsPanel {
  readonly element: HTMLDetailsElement;
  private readonly body = h('div', { class: 'preset-body' });
  private preset: ClaimPreset | null = null;
  private selected: string[] = [];

  constructor(private readonly onLoad: (configs: ExperimentConfig[]) => void) {
    const all = listPresets();
    const select = h(
      'select',
      { id: 'preset', onchange: (event: Event) => this.show((event.target as HTMLSelectElement).value) },
      h('option', { value: '' }, 'Choose a claim...'),
      ...all.map((preset) => {
        const missing = presetMissing(preset);
        return h('option', { value: preset.name, disabled: missing.length > 0, title: missing.length ? `Needs ${missing.join(', ')}` : preset.method }, preset.title);
      }),
    );
    this.element = h(
      'details',
      { class: 'presets-panel', id: 'presets' },
      h('summary', {}, 'Claims from the literature'),
      h(
        'p',
        { class: 'hint' },
        'The claims lab’s experiments (`npm run lab` runs every configuration of one and judges the claim against thresholds fixed in advance). Load up to four of its configurations here to watch them train side by side.',
      ),
      h('div', { class: 'field field-select' }, h('label', { for: 'preset' }, 'Claim'), select),
      this.body,
    );
  }

  private show(name: string): void {
    this.preset = listPresets().find((p) => p.name === name) ?? null;
    if (!this.preset) {
      this.body.replaceChildren();
      return;
    }
    this.selected = defaultPresetSelection(this.preset);
    this.render();
  }

  private render(): void {
    const preset = this.preset!;
    const loadButton = h('button', { type: 'button', id: 'load-preset', class: 'primary', onclick: () => this.onLoad(presetConfigs(preset, this.selected)) });
    const updateButton = (): void => {
      loadButton.textContent = `Load ${this.selected.length} run${this.selected.length === 1 ? '' : 's'}`;
      loadButton.disabled = this.selected.length === 0;
    };
    const runs = presetRuns(preset);
    const checkboxes = runs.map((run) => {
      const input = h('input', { type: 'checkbox', 'data-preset-run': run.id, checked: this.selected.includes(run.id) });
      input.addEventListener('change', () => {
        this.selected = input.checked ? runs.map((r) => r.id).filter((id) => id === run.id || this.selected.includes(id)) : this.selected.filter((id) => id !== run.id);
        for (const box of checkboxes) box.input.disabled = !box.input.checked && this.selected.length >= MAX_RUNS;
        updateButton();
      });
      return { input, element: h('label', { class: 'preset-run' }, input, ` ${run.label} `, h('span', { class: `badge role-${run.role}` }, run.role)) };
    });
    for (const box of checkboxes) box.input.disabled = !box.input.checked && this.selected.length >= MAX_RUNS;
    updateButton();
    this.body.replaceChildren(
      h('blockquote', { class: 'claim' }, `“${preset.claim.quote}”`, h('cite', {}, ` ${preset.claim.source}, ${preset.claim.section}`)),
      h('p', { class: 'hint' }, preset.method),
      h(
        'ul',
        { class: 'criteria' },
        ...preset.criteria.map((c) => h('li', {}, `${c.kind === 'control' ? 'Control' : 'Claim'}: ${c.statement} (${c.metric} ${c.comparison} ${c.threshold}${c.unit ? ` ${c.unit}` : ''})`)),
      ),
      h('div', { class: 'preset-runs' }, ...checkboxes.map((c) => c.element)),
      loadButton,
    );
  }
}
