// The normkit side of `npm run bench` in a process that loads normkit and nothing else (main.ts runs it
// before timing tfjs in its own process). With tfjs's backends loaded in the same process, V8 ran a full
// mark-compact on about every step of normkit's loops, which allocate fresh outputs of megabytes, and timed
// normkit's normalizers 10-20% slower on one thread and up to 45% slower on two than a process of their own
// does (see the bench README). Progress goes to stderr as the bench prints it; the outcomes go to stdout as
// one JSON line keyed by "family/name", the last line (the parent passes on anything a case prints before it).
//
//   node dist/normkit-timer.js [--only <substrings>] [--threads 1,2]
import { measureNormkitSide, type NormkitSide } from './normkit-side';
import { selectCases } from './select';

function argument(name: string): string | null {
  const index = process.argv.indexOf(`--${name}`);
  return index === -1 ? null : (process.argv[index + 1] ?? null);
}

const only = argument('only');
const threadCounts = (argument('threads') ?? '1').split(',').map(Number);
const selected = selectCases(only === null || only === '' ? null : only);
const sides: Record<string, NormkitSide> = {};
const write = (text: string) => process.stderr.write(text);
for (const [index, selectedCase] of selected.entries()) {
  const { family, benchCase } = selectedCase;
  write(`[${index + 1}/${selected.length}] ${family}/${benchCase.name} (${benchCase.elements.toLocaleString('en-US')} elements): normkit\n`);
  sides[`${family}/${benchCase.name}`] = measureNormkitSide(selectedCase, threadCounts, write);
}
process.stdout.write(`${JSON.stringify(sides)}\n`);
