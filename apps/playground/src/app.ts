// The page: the toolbar, up to four run cards, the live charts, the link and the exports.
import { encodeConfig, type ExperimentConfig } from '@normkit/experiments';
import { ChartPanel } from './chart-panel';
import { MAX_RUNS, RUN_COLORS, RUN_LABELS, describeDraft, draftFromConfig, initialDrafts, type Draft } from './drafts';
import { append, download, h } from './dom';
import { resultsToCsv, resultsToJson, type ExportRun } from './export';
import { PresetsPanel } from './presets-panel';
import { RunCard, type RunCardHost } from './run-card';
import { RunHandle, type RunStatus } from './run-handle';
import type { RunViewsSnapshot } from './run-views';
import { chartDefinitions, type RunView } from './series';
import { isolationProblem, threadsPerRun } from './threads';
import { readUrlState, writeUrlState } from './url-state';

/** What `window.normkitPlayground.snapshot()` returns: the page's state as data (tests, the console). */
export interface PlaygroundSnapshot {
  playing: boolean;
  url: string;
  runs: Array<{
    label: string;
    status: string;
    completedSteps: number;
    encodedConfig: string | null;
    description: string;
    stepLosses: number[];
    evals: number;
    /** Training accuracy of the latest evaluation (eval mode), null before one. */
    trainAccuracy: number | null;
    problem: string | null;
    /** The card's compute backend (`backend: wasm`), null until the worker reported it. */
    backend: string | null;
    /** The card's speed (`123 steps/s`), null until the run has trained a while. */
    speed: string | null;
    /** The card's threads line (`2 threads`), null until the worker reported it. */
    threads: string | null;
    /** Whether the card's configuration form is unfolded. */
    configOpen: boolean;
    views: RunViewsSnapshot;
  }>;
  /** The page's note on threads (how the cores are shared, or why there are no threads). */
  threadsNote: string;
  crossOriginIsolated: boolean;
  charts: Record<string, { visible: boolean; lines: number; points: number }>;
  messages: string[];
}

const REDRAW_MS = 120;

/** A run that can still train (or soon will). */
function canTrain(status: RunStatus): boolean {
  return status === 'running' || status === 'paused' || status === 'starting' || status === 'loading';
}

export class PlaygroundApp implements RunCardHost {
  private cards: RunCard[] = [];
  private playing = false;
  private readonly charts = chartDefinitions.map((definition) => new ChartPanel(definition));
  private readonly runsElement = h('div', { class: 'runs', id: 'runs' });
  private readonly messagesElement = h('div', { class: 'messages', id: 'messages', 'aria-live': 'polite' });
  private readonly threadsNote = h('p', { class: 'threads-note', id: 'threads-note' });
  private readonly playButton = h('button', { type: 'button', id: 'play', class: 'primary', onclick: () => this.togglePlay() }, 'Play');
  private readonly stepButton = h('button', { type: 'button', id: 'step', title: 'Take steps now (while paused)', onclick: () => this.step() }, 'Step');
  private readonly stepSize = h('select', { id: 'step-size', title: 'Steps per click of Step' }, ...[1, 10, 100].map((n) => h('option', { value: String(n) }, `${n}`)));
  private readonly addButton = h('button', { type: 'button', id: 'add-run', onclick: () => this.addRun() }, 'Add run');
  private readonly linkField = h('input', { id: 'share-link', type: 'text', readonly: true, 'aria-label': 'Link to this experiment' });
  private redrawTimer: ReturnType<typeof setTimeout> | null = null;
  private lastRedraw = 0;

  constructor(private readonly root: HTMLElement) {}

  start(): void {
    const compare = this.charts.filter((c) => c.definition.section === 'compare');
    const inside = this.charts.filter((c) => c.definition.section === 'inside');
    append(
      this.root,
      h(
        'header',
        { class: 'page-header' },
        h(
          'div',
          { class: 'brand' },
          h('h1', {}, 'normkit playground'),
          h(
            'p',
            { class: 'tagline' },
            'Train up to four configurations side by side and watch what normalization does inside the network. Everything runs in your browser; the link reproduces the experiment.',
          ),
        ),
        h(
          'div',
          { class: 'toolbar', role: 'toolbar' },
          this.playButton,
          h('span', { class: 'step-group' }, this.stepButton, this.stepSize),
          h('button', { type: 'button', id: 'reset', title: 'Start every run over from step 0', onclick: () => this.reset() }, 'Reset'),
          h('span', { class: 'separator' }),
          this.addButton,
          h('span', { class: 'separator' }),
          h('button', { type: 'button', id: 'copy-link', title: 'Copy the link to this experiment', onclick: () => void this.copyLink() }, 'Copy link'),
          h('button', { type: 'button', id: 'export-json', title: 'Configs and every event as JSON', onclick: () => this.exportJson() }, 'Export JSON'),
          h('button', { type: 'button', id: 'export-csv', title: 'Every number as long-format CSV', onclick: () => this.exportCsv() }, 'Export CSV'),
        ),
        h('div', { class: 'share' }, h('label', { for: 'share-link' }, 'Link'), this.linkField),
        this.threadsNote,
      ),
      this.messagesElement,
      new PresetsPanel((configs) => this.loadConfigs(configs)).element,
      h(
        'main',
        {},
        this.runsElement,
        h(
          'section',
          { class: 'charts', 'aria-label': 'Curves' },
          h('h2', {}, 'Curves'),
          h('div', { class: 'chart-grid' }, ...compare.map((c) => c.element)),
          h('h2', {}, 'Inside the networks'),
          h(
            'p',
            { class: 'section-hint' },
            'Per-layer statistics and the probes of normalizers that have them (running statistics, Switchable importance, spectral sigma, attention max-logit) appear as runs report them.',
          ),
          h('div', { class: 'chart-grid chart-grid-inside' }, ...inside.map((c) => c.element)),
        ),
      ),
    );
    this.loadFromHash();
    window.addEventListener('hashchange', () => {
      // A link pasted into this tab: load its runs (the page writes its own with replaceState, which fires nothing).
      if (location.hash !== writeUrlState(this.appliedConfigs())) this.loadFromHash();
    });
    new ResizeObserver(() => this.charts.forEach((c) => c.resize())).observe(this.root);
    (window as unknown as { normkitPlayground: unknown }).normkitPlayground = { snapshot: () => this.snapshot() };
    document.body.dataset.appReady = 'true';
  }

  /** Replaces every run with the runs of the URL fragment; what cannot be read is said in the page. */
  private loadFromHash(): void {
    for (const card of this.cards) card.handle.dispose();
    this.cards = [];
    this.runsElement.replaceChildren();
    this.messagesElement.replaceChildren();
    this.playing = false;
    const state = readUrlState(location.hash);
    let drafts: Draft[] = state.configs.map(draftFromConfig);
    if (drafts.length === 0) {
      if (state.errors.length > 0) state.errors.push('Showing the default runs instead.');
      drafts = initialDrafts();
    }
    for (const message of state.errors) this.showMessage(message);
    for (const draft of drafts) this.addCard(draft);
    this.afterRunsChanged();
  }

  /** Replaces the runs with these configs through the link (so Back returns to the previous runs). */
  private loadConfigs(configs: readonly ExperimentConfig[]): void {
    location.hash = writeUrlState(configs); // fires hashchange, which loads them
  }

  private showMessage(text: string, kind: 'error' | 'info' = 'error'): void {
    const message = h(
      'div',
      { class: `message message-${kind}`, role: kind === 'error' ? 'alert' : 'status' },
      h('span', {}, text),
      h('button', { type: 'button', class: 'small dismiss', title: 'Dismiss', onclick: () => message.remove() }, 'Dismiss'),
    );
    this.messagesElement.appendChild(message);
  }

  private addCard(draft: Draft): RunCard {
    const handle = new RunHandle(() => this.onRunUpdate());
    const card = new RunCard(this, handle, draft);
    this.cards.push(card);
    this.runsElement.appendChild(card.element);
    card.setIndex(this.cards.length - 1);
    card.commit();
    return card;
  }

  // RunCardHost ---------------------------------------------------------------------------------

  train(card: RunCard, config: ExperimentConfig): void {
    card.handle.configure(config, this.playing);
    this.afterRunsChanged();
  }

  remove(card: RunCard): void {
    if (!this.canRemove()) return;
    card.handle.dispose();
    card.element.remove();
    this.cards = this.cards.filter((c) => c !== card);
    this.afterRunsChanged();
  }

  duplicate(card: RunCard): void {
    if (!this.canAdd()) return;
    this.addCard(structuredClone(card.handle.config ?? card.draft));
    this.afterRunsChanged();
  }

  canAdd(): boolean {
    return this.cards.length < MAX_RUNS;
  }

  canRemove(): boolean {
    return this.cards.length > 1;
  }

  // Toolbar -------------------------------------------------------------------------------------

  private addRun(): void {
    if (!this.canAdd()) return;
    const last = this.cards.at(-1);
    this.addCard(structuredClone(last?.handle.config ?? last?.draft ?? initialDrafts()[0]!));
    this.afterRunsChanged();
  }

  private togglePlay(): void {
    if (this.playing) {
      this.playing = false;
      for (const card of this.cards) card.handle.pause();
    } else if (this.cards.some((c) => canTrain(c.handle.status))) {
      this.playing = true;
      for (const card of this.cards) card.handle.play();
    } else {
      this.showMessage('Every run has ended (finished, diverged or failed): press Reset to train them again, or change a configuration.', 'info');
    }
    this.updateToolbar();
  }

  private step(): void {
    const count = Number(this.stepSize.value);
    for (const card of this.cards) card.handle.step(count);
  }

  private reset(): void {
    this.playing = false;
    for (const card of this.cards) card.handle.reset();
    this.updateToolbar();
  }

  private async copyLink(): Promise<void> {
    this.linkField.select();
    try {
      await navigator.clipboard.writeText(location.href);
    } catch {
      // No clipboard permission (e.g. an insecure origin): the link stays selected in its field.
    }
  }

  private exportRuns(): ExportRun[] {
    return this.cards
      .filter((card) => card.handle.config)
      .map((card) => ({ label: card.label, description: describeDraft(card.handle.config!), config: card.handle.config!, status: card.handle.status, history: card.handle.history }));
  }

  private exportJson(): void {
    download('normkit-playground-results.json', resultsToJson(this.exportRuns(), location.href), 'application/json');
  }

  private exportCsv(): void {
    download('normkit-playground-results.csv', resultsToCsv(this.exportRuns()), 'text/csv');
  }

  // State ---------------------------------------------------------------------------------------

  private appliedConfigs(): ExperimentConfig[] {
    return this.cards.map((card) => card.handle.config).filter((c): c is ExperimentConfig => c !== null);
  }

  /** Relabels the cards, writes the link and refreshes everything that depends on the set of runs. */
  private afterRunsChanged(): void {
    this.assignThreads();
    this.cards.forEach((card, i) => card.setIndex(i));
    const hash = writeUrlState(this.appliedConfigs());
    if (location.hash !== hash) history.replaceState(null, '', hash);
    this.linkField.value = location.href;
    this.updateToolbar();
    this.scheduleRedraw();
  }

  /**
   * Shares the cores between the runs that can train: each gets max(1, floor(cores / active runs))
   * intra-op threads, and the page says how, or why there are none.
   */
  private assignThreads(): void {
    const cores = navigator.hardwareConcurrency || 1;
    const active = Math.max(1, this.cards.filter((c) => canTrain(c.handle.status)).length);
    const each = threadsPerRun(cores, active);
    for (const card of this.cards) card.handle.setThreads(each);
    const problem = isolationProblem(globalThis) ?? this.cards.map((c) => c.handle.threads).find((t) => t && !t.available)?.reason ?? null;
    this.threadsNote.classList.toggle('threads-unavailable', problem !== null);
    this.threadsNote.textContent = problem
      ? `Threads unavailable: ${problem}. Each run trains on one thread.`
      : `Threads: ${cores} logical cores shared by ${active} active run${active === 1 ? '' : 's'}, ${each} thread${each === 1 ? '' : 's'} each.`;
  }

  private onRunUpdate(): void {
    this.assignThreads();
    for (const card of this.cards) card.refresh();
    // Everything finished: the toolbar goes back to Play.
    if (this.playing && !this.cards.some((c) => canTrain(c.handle.status))) this.playing = false;
    this.updateToolbar();
    this.scheduleRedraw();
  }

  private updateToolbar(): void {
    this.playButton.textContent = this.playing ? 'Pause' : 'Play';
    this.playButton.setAttribute('aria-pressed', String(this.playing));
    this.stepButton.disabled = this.playing;
    this.addButton.disabled = !this.canAdd();
  }

  /** Redraws the charts at most every REDRAW_MS while events stream in. */
  private scheduleRedraw(): void {
    if (this.redrawTimer !== null) return;
    const wait = Math.max(0, REDRAW_MS - (performance.now() - this.lastRedraw));
    this.redrawTimer = setTimeout(() => {
      this.redrawTimer = null;
      this.lastRedraw = performance.now();
      const views = this.runViews();
      for (const chart of this.charts) chart.update(views);
      // The cards' maps and histograms redraw at the charts' pace too, not on every worker message.
      for (const card of this.cards) card.views.update();
    }, wait);
  }

  private runViews(): RunView[] {
    return this.cards.map((card, index) => ({
      index,
      label: RUN_LABELS[index]!,
      color: RUN_COLORS[index]!,
      task: (card.handle.config ?? card.draft).task,
      history: card.handle.history,
    }));
  }

  snapshot(): PlaygroundSnapshot {
    return {
      playing: this.playing,
      url: location.href,
      runs: this.cards.map((card) => ({
        label: card.label,
        status: card.handle.status,
        completedSteps: card.handle.completedSteps,
        encodedConfig: card.handle.config ? encodeConfig(card.handle.config) : null,
        description: card.handle.config ? describeDraft(card.handle.config) : '',
        stepLosses: card.handle.history.steps.map((s) => s.loss),
        evals: card.handle.history.evals.length,
        trainAccuracy: card.handle.history.evals.at(-1)?.train.accuracy ?? null,
        problem: card.element.querySelector('.run-problem:not([hidden])')?.textContent ?? null,
        backend: card.element.querySelector('.run-compute:not([hidden]) .run-backend')?.textContent ?? null,
        speed: card.element.querySelector('.run-compute:not([hidden]) .run-speed:not([hidden])')?.textContent ?? null,
        threads: card.element.querySelector('.run-compute:not([hidden]) .run-threads')?.textContent || null,
        configOpen: card.element.querySelector<HTMLDetailsElement>('.run-config')!.open,
        views: card.views.snapshot(),
      })),
      threadsNote: this.threadsNote.textContent ?? '',
      crossOriginIsolated: globalThis.crossOriginIsolated === true,
      charts: Object.fromEntries(this.charts.map((c) => [c.definition.id, { visible: !c.element.hidden, ...c.stats }])),
      messages: [...this.messagesElement.querySelectorAll('.message span')].map((m) => m.textContent ?? ''),
    };
  }
}
