// The card of one run: its status and messages, and the editor of its configuration. Every picker
// lists what the engine and the registry offer (tasks, data sets, models, registered plugins), and
// every options form is generated from a schema, so new plugins and families need no code here.
import {
  NO_NORM, TASKS, datasets, listBlockWrappers, models, optimizerSchemas, scheduleSchemas,
  type ExperimentConfig, type NormRole, type OptimizerName, type ScheduleName, type TaskKind,
} from '@normkit/experiments';
import { list, type OptionsSchema } from '@normkit/tensor';
import {
  RUN_COLORS, RUN_LABELS, TASK_TITLES, datasetsForTask, describeDraft, modelsFor, normChoice, normalizerOptions, traitBadges,
  trainingSchema, validateDraft, withBlockWrapper, withDataset, withModel, withOptimizer, withSchedule, withTask,
  type Draft, type TrainingField,
} from './drafts';
import { h } from './dom';
import { optionsForm } from './form';
import { schemaDefaults, type OptionValue } from './options';
import type { RunHandle } from './run-handle';
import { RunViews } from './run-views';

export interface RunCardHost {
  /** The card's draft is valid (resolved as `config`): train it from step 0. */
  train(card: RunCard, config: ExperimentConfig): void;
  remove(card: RunCard): void;
  duplicate(card: RunCard): void;
  canAdd(): boolean;
  canRemove(): boolean;
}

function percent(value: number): string {
  return `${(100 * value).toFixed(1)}%`;
}

function number(value: number): string {
  return Math.abs(value) >= 100 ? value.toFixed(0) : value.toPrecision(3);
}

/** The status line of a run: where it stands and its latest numbers. */
export function statusText(handle: RunHandle): string {
  const config = handle.config;
  const parts: string[] = [];
  if (config) parts.push(`step ${handle.completedSteps} / ${config.steps}`);
  parts.push(handle.status);
  const last = handle.history.evals.at(-1);
  if (last) {
    const generation = config?.task === 'conditional-generation';
    parts.push(`${generation ? 'test quality' : 'test acc'} ${percent(last.test.accuracy)}`, `test loss ${number(last.test.loss)}`);
  }
  return parts.join(' · ');
}

/** The compute backend of a run, as its worker reported it once built; null before. */
export function backendText(handle: RunHandle): string | null {
  return handle.summary ? `backend: ${handle.summary.backend}` : null;
}

/** Training speed: steps per second over the last seconds of play, or the whole run's average once it paused. */
export function speedText(handle: RunHandle): string | null {
  if (handle.stepsPerSecond !== null) return `${handle.stepsPerSecond >= 100 ? Math.round(handle.stepsPerSecond) : handle.stepsPerSecond.toPrecision(3)} steps/s`;
  return null;
}

/** The intra-op threads of a run's worker, and why one when threads are unavailable. */
export function threadsText(handle: RunHandle): string | null {
  const info = handle.threads;
  if (!info) return null;
  return `${info.threads} thread${info.threads === 1 ? '' : 's'}${info.available ? '' : ' (threads unavailable)'}`;
}

/** Why a run stopped or cannot start, in words; null while it is fine. */
export function runProblem(handle: RunHandle): string | null {
  const end = handle.history.end;
  if (handle.status === 'error') return handle.message;
  if (end?.type === 'failed') return `Failed at step ${end.step}, the other runs keep going. ${end.error.name}: ${end.error.message}`;
  if (end?.type === 'diverged') return `Diverged at step ${end.step}: ${end.reason}. Try a smaller learning rate or a normalizer.`;
  return null;
}

export class RunCard {
  readonly element: HTMLElement;
  draft: Draft;
  index = 0;
  /** Fields whose text is not a valid value, by path, with their messages. */
  private readonly invalid = new Map<string, string>();
  /** The engine's message for a draft it refused, or null. */
  private draftError: string | null = null;
  private readonly openDetails = new Set<string>();
  private readonly header: HTMLElement;
  private readonly status: HTMLElement;
  private readonly backend: HTMLElement;
  private readonly speed: HTMLElement;
  private readonly threads: HTMLElement;
  private readonly compute: HTMLElement;
  private readonly config: HTMLDetailsElement;
  readonly views: RunViews;
  /** The status at the last refresh: the configuration folds away when a run starts running. */
  private lastStatus = '';
  private readonly draftProblem: HTMLElement;
  private readonly runProblem: HTMLElement;
  private readonly editor: HTMLElement;
  private readonly removeButton: HTMLButtonElement;
  private readonly duplicateButton: HTMLButtonElement;

  constructor(private readonly host: RunCardHost, readonly handle: RunHandle, draft: Draft) {
    this.draft = draft;
    this.header = h('h2', { class: 'run-title' });
    this.status = h('div', { class: 'run-status', 'aria-live': 'polite' });
    this.backend = h('span', { class: 'run-backend' });
    this.speed = h('span', { class: 'run-speed' });
    this.threads = h('span', { class: 'run-threads' });
    this.compute = h('div', { class: 'run-compute', hidden: true }, this.speed, this.backend, this.threads);
    this.views = new RunViews(handle, () => `Run ${this.label}: ${describeDraft(this.handle.config ?? this.draft)}`, () => this.color);
    this.draftProblem = h('div', { class: 'message message-warning draft-problem', role: 'alert', hidden: true });
    this.runProblem = h('div', { class: 'message message-error run-problem', role: 'alert', hidden: true });
    this.editor = h('div', { class: 'run-editor' });
    this.config = h('details', { class: 'run-config', open: true }, h('summary', {}, 'Configuration'), this.editor);
    this.removeButton = h('button', { type: 'button', class: 'small', title: 'Remove this run', onclick: () => this.host.remove(this) }, 'Remove');
    this.duplicateButton = h('button', { type: 'button', class: 'small', title: 'Add a copy of this run (up to four runs)', onclick: () => this.host.duplicate(this) }, 'Duplicate');
    this.element = h(
      'section',
      { class: 'run-card' },
      h('header', { class: 'run-header' }, this.header, h('span', { class: 'run-actions' }, this.duplicateButton, this.removeButton)),
      this.status,
      this.compute,
      this.runProblem,
      this.draftProblem,
      this.views.element,
      this.config,
    );
    this.renderEditor();
  }

  get label(): string {
    return RUN_LABELS[this.index]!;
  }

  get color(): string {
    return RUN_COLORS[this.index]!;
  }

  /** Places the card at `index` (its label and colour) and refreshes what depends on it. */
  setIndex(index: number): void {
    this.index = index;
    this.element.style.setProperty('--run-color', this.color);
    this.element.dataset.run = String(index);
    this.refresh();
  }

  /** Updates the header, status line, messages and buttons from the run (cheap: no editor rebuild). */
  refresh(): void {
    const described = this.handle.config ? describeDraft(this.handle.config) : describeDraft(this.draft);
    this.header.replaceChildren(h('span', { class: 'run-badge' }, this.label), h('span', { class: 'run-description' }, described));
    this.status.textContent = statusText(this.handle);
    this.element.dataset.status = this.handle.status;
    const backend = backendText(this.handle);
    this.compute.hidden = backend === null;
    this.backend.textContent = backend ?? '';
    this.speed.textContent = speedText(this.handle) ?? '';
    this.speed.hidden = this.speed.textContent === '';
    this.threads.textContent = threadsText(this.handle) ?? '';
    this.threads.title = this.handle.threads?.reason ?? '';
    // Once a run starts, its form folds away so the charts and the map get the screen (a click opens it again).
    if (this.handle.status === 'running' && this.lastStatus !== 'running') this.config.open = false;
    this.lastStatus = this.handle.status;
    this.element.dataset.steps = String(this.handle.completedSteps);
    const problem = runProblem(this.handle);
    this.runProblem.hidden = problem === null;
    this.runProblem.textContent = problem ?? '';
    const draftMessages = [...this.invalid.values()];
    if (this.draftError) draftMessages.push(this.draftError);
    this.draftProblem.hidden = draftMessages.length === 0;
    this.draftProblem.replaceChildren(
      h('strong', {}, 'Not applied: '),
      draftMessages.join(' '),
      h('span', { class: 'hint' }, ' The run keeps its last valid configuration.'),
    );
    this.removeButton.disabled = !this.host.canRemove();
    this.duplicateButton.disabled = !this.host.canAdd();
  }

  /**
   * Checks the draft with the engine and, when valid, has the host train it; otherwise the card
   * says why and the run keeps its last valid configuration.
   */
  commit(): void {
    if (this.invalid.size > 0) {
      this.draftError = null;
      this.refresh();
      return;
    }
    const check = validateDraft(this.draft);
    this.draftError = check.ok ? null : check.message;
    if (check.ok) this.host.train(this, check.config);
    this.refresh();
  }

  /** A structural change (a picker): rebuild the editor for the new draft, then apply. */
  private change(next: Draft): void {
    this.draft = next;
    this.invalid.clear();
    this.renderEditor();
    this.commit();
  }

  private formHandlers(path: string, target: () => Record<string, unknown>): Parameters<typeof optionsForm>[3] {
    return {
      commit: (key: string, value: OptionValue) => {
        target()[key] = value;
        this.invalid.delete(`${path}.${key}`);
        this.commit();
      },
      validity: (key: string, message: string | null) => {
        if (message === null) this.invalid.delete(`${path}.${key}`);
        else this.invalid.set(`${path}.${key}`, message);
        this.refresh();
      },
    };
  }

  /** An options form inside a collapsible block that remembers whether it was open. */
  private optionsBlock(schema: OptionsSchema, owner: { options?: Record<string, unknown> }, path: string, summary = 'options'): HTMLElement | null {
    owner.options ??= schemaDefaults(schema);
    const form = optionsForm(schema, owner.options, path, this.formHandlers(path, () => (owner.options ??= {})));
    if (!form) return null;
    const details = h('details', { class: 'options', 'data-details': path, open: this.openDetails.has(path) }, h('summary', {}, `${summary} (${Object.keys(schema).length})`), form);
    details.addEventListener('toggle', () => (details.open ? this.openDetails.add(path) : this.openDetails.delete(path)));
    return details;
  }

  private select(field: string, label: string, options: Array<{ value: string; text: string; title?: string; disabled?: boolean; group?: string }>, value: string, onChange: (value: string) => void, title?: string): HTMLElement {
    const id = `run-${field}-${Math.random().toString(36).slice(2, 8)}`;
    const select = h('select', { id, 'data-field': field, title, onchange: (event: Event) => onChange((event.target as HTMLSelectElement).value) });
    const groups = new Map<string, HTMLElement>();
    for (const option of options) {
      const element = h('option', { value: option.value, selected: option.value === value, disabled: option.disabled, title: option.title }, option.text);
      if (option.group) {
        let group = groups.get(option.group);
        if (!group) groups.set(option.group, (group = h('optgroup', { label: option.group })));
        group.appendChild(element);
        select.appendChild(group);
      } else {
        select.appendChild(element);
      }
    }
    return h('div', { class: 'field field-select' }, h('label', { for: id }, label), select);
  }

  private renderEditor(): void {
    const draft = this.draft;
    const dataset = datasets[draft.dataset.name]!;
    const model = models[draft.model.name]!;
    const sections: HTMLElement[] = [];

    sections.push(
      h(
        'fieldset',
        { class: 'editor-section' },
        h('legend', {}, 'Task and data'),
        this.select('task', 'Task', TASKS.map((t) => ({ value: t, text: TASK_TITLES[t] })), draft.task, (t) => this.change(withTask(this.draft, t as TaskKind))),
        this.select(
          'dataset',
          'Data set',
          datasetsForTask(draft.task).map((d) => ({ value: d.name, text: d.name, title: d.description })),
          draft.dataset.name,
          (name) => this.change(withDataset(this.draft, name)),
          dataset.description,
        ),
        h('p', { class: 'hint' }, dataset.description),
        this.optionsBlock(dataset.options, draft.dataset, 'dataset.options', 'data set options'),
      ),
    );

    const modelSection = h(
      'fieldset',
      { class: 'editor-section' },
      h('legend', {}, 'Model'),
      this.select(
        'model',
        'Model',
        modelsFor(draft.task, dataset).map((m) => ({ value: m.name, text: m.name, title: m.description })),
        draft.model.name,
        (name) => this.change(withModel(this.draft, name)),
        model.description,
      ),
      h('p', { class: 'hint' }, model.description),
      this.optionsBlock(model.options, draft.model, 'model.options', 'model options'),
    );
    const wrappers = listBlockWrappers();
    if (model.name === 'residual' && wrappers.length > 1) {
      const current = draft.model.blockWrapper?.name ?? 'plain';
      const wrapper = wrappers.find((w) => w.name === current)!;
      modelSection.append(
        this.select('block-wrapper', 'Residual block', wrappers.map((w) => ({ value: w.name, text: w.name, title: w.description })), current, (name) =>
          this.change(withBlockWrapper(this.draft, name)),
        ),
      );
      if (draft.model.blockWrapper) {
        const block = this.optionsBlock(wrapper.options, draft.model.blockWrapper, 'model.blockWrapper.options', 'block options');
        if (block) modelSection.append(block);
      }
    }
    sections.push(modelSection);

    sections.push(
      h('fieldset', { class: 'editor-section' }, h('legend', {}, 'Normalization'), ...model.normRoles.map((role) => this.normRole(role, dataset.inputKind === 'tokens'))),
    );

    const weightPlugins = list({ kind: 'weight-parametrization' });
    if (weightPlugins.length > 0 && model.weightRoles.length > 0) {
      sections.push(
        h(
          'fieldset',
          { class: 'editor-section' },
          h('legend', {}, 'Weight parametrization'),
          ...model.weightRoles.map((role) => {
            const choice = draft.weights[role];
            const plugin = weightPlugins.find((p) => p.name === choice?.name);
            return h(
              'div',
              { class: 'role' },
              this.select(
                `weights.${role}`,
                role === 'layers' ? 'Every Linear/Conv weight' : `${role} weights`,
                [{ value: NO_NORM, text: 'none' }, ...weightPlugins.map((p) => ({ value: p.name, text: p.name, title: p.description, group: p.family }))],
                choice?.name ?? NO_NORM,
                (name) => {
                  const weights = { ...this.draft.weights };
                  if (name === NO_NORM) delete weights[role];
                  else weights[role] = { name, options: schemaDefaults(weightPlugins.find((p) => p.name === name)!.options) };
                  this.change({ ...this.draft, weights });
                },
              ),
              plugin ? h('p', { class: 'hint' }, plugin.description) : null,
              plugin && choice ? this.optionsBlock(plugin.options, choice, `weights.${role}.options`) : null,
            );
          }),
        ),
      );
    }

    const transformPlugins = list({ kind: 'gradient-transform' });
    if (transformPlugins.length > 0) {
      sections.push(
        h(
          'fieldset',
          { class: 'editor-section' },
          h('legend', {}, 'Gradient transforms'),
          ...transformPlugins.map((plugin) => {
            const chosen = draft.gradientTransforms.find((t) => t.name === plugin.name);
            const id = `transform-${plugin.name}-${Math.random().toString(36).slice(2, 8)}`;
            return h(
              'div',
              { class: 'role' },
              h(
                'div',
                { class: 'field field-boolean' },
                h('input', {
                  id,
                  type: 'checkbox',
                  'data-transform': plugin.name,
                  checked: chosen !== undefined,
                  onchange: (event: Event) => {
                    const on = (event.target as HTMLInputElement).checked;
                    const others = this.draft.gradientTransforms.filter((t) => t.name !== plugin.name);
                    // Keep the registry's order, so a config does not depend on the order of clicks.
                    const next = on ? [...others, { name: plugin.name, options: schemaDefaults(plugin.options) }] : others;
                    const order = transformPlugins.map((p) => p.name);
                    next.sort((a, b) => order.indexOf(a.name) - order.indexOf(b.name));
                    this.change({ ...this.draft, gradientTransforms: next });
                  },
                }),
                h('label', { for: id, title: plugin.description }, plugin.name),
              ),
              chosen ? this.optionsBlock(plugin.options, chosen, `gradientTransforms.${plugin.name}.options`) : null,
            );
          }),
        ),
      );
    }

    const training = draft as unknown as Record<TrainingField, number>;
    const trainingForm = optionsForm(trainingSchema, training, 'training', this.formHandlers('training', () => this.draft as unknown as Record<string, unknown>));
    sections.push(
      h(
        'fieldset',
        { class: 'editor-section' },
        h('legend', {}, 'Training'),
        this.select('optimizer', 'Optimizer', Object.keys(optimizerSchemas).map((name) => ({ value: name, text: name })), draft.optimizer.name, (name) =>
          this.change(withOptimizer(this.draft, name as OptimizerName)),
        ),
        this.optionsBlock(optimizerSchemas[draft.optimizer.name], draft.optimizer, 'optimizer.options', 'optimizer options'),
        trainingForm,
        this.select('schedule', 'Learning-rate schedule', Object.keys(scheduleSchemas).map((name) => ({ value: name, text: name })), draft.schedule.name, (name) =>
          this.change(withSchedule(this.draft, name as ScheduleName)),
        ),
        this.optionsBlock(scheduleSchemas[draft.schedule.name], draft.schedule, 'schedule.options', 'schedule options'),
      ),
    );
    this.editor.replaceChildren(...sections);
  }

  private normRole(role: NormRole, tokens: boolean): HTMLElement {
    const choice = this.draft.norms[role.name] ?? { name: NO_NORM };
    const candidates = normalizerOptions(this.draft, role);
    const current = candidates.find((c) => c.name === choice.name);
    const plugin = choice.name === NO_NORM ? null : (list({ kind: 'normalizer' }).find((p) => p.name === choice.name) ?? null);
    const badges = traitBadges(current?.traits ?? null);
    const showMask = tokens && current?.traits?.acceptsMask === true;
    const maskId = `mask-${role.name}-${Math.random().toString(36).slice(2, 8)}`;
    return h(
      'div',
      { class: 'role', 'data-norm-role': role.name },
      this.select(
        `norms.${role.name}`,
        role.name,
        candidates.map((c) => ({
          value: c.name,
          text: c.unavailable ? `${c.name} (not here)` : c.name,
          title: c.unavailable ?? c.description,
          disabled: c.unavailable !== null && c.name !== choice.name,
          group: c.family || undefined,
        })),
        choice.name,
        (name) => this.change({ ...this.draft, norms: { ...this.draft.norms, [role.name]: normChoice(name) } }),
        role.description,
      ),
      h('p', { class: 'hint' }, current?.description ?? role.description),
      badges.length ? h('div', { class: 'badges' }, ...badges.map((b) => h('span', { class: 'badge' }, b))) : null,
      showMask
        ? h(
            'div',
            { class: 'field field-boolean' },
            h('input', {
              id: maskId,
              type: 'checkbox',
              'data-mask-role': role.name,
              checked: choice.mask !== false,
              onchange: (event: Event) => {
                const next = { ...choice };
                if ((event.target as HTMLInputElement).checked) delete next.mask;
                else next.mask = false;
                this.change({ ...this.draft, norms: { ...this.draft.norms, [role.name]: next } });
              },
            }),
            h('label', { for: maskId, title: 'Hand the padding mask to the normalizer, so padded positions stay out of its statistics' }, 'use the padding mask'),
          )
        : null,
      plugin ? this.optionsBlock(plugin.options, choice, `norms.${role.name}.options`) : null,
    );
  }
}
