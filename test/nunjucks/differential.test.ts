import { execFile } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import nunjucks from 'nunjucks';
import { Cache, CacheExtension } from '../../src';
import { addExtras, cases, generated, handWritten, makeLoader, PLAIN_RENDERER, renderCase, snapshot, type Case, type Outcome, type PlainResults } from './differential';
import { cacheFactory, storeKinds } from '../support/stores';
import { viewsFolder } from '../support/templates';

/**
 * Installing the extension never changes what a template renders. Every corpus case is rendered
 * by plain nunjucks in a child process that never loads this library (test/nunjucks/differential/
 * plain-renderer.js), and here with the extension added as a user adds it; the output or error
 * message, and the caller's data afterwards, must be the same — on the first render and, for
 * templates holding cache tags, on the second (hits) too.
 */

/** Long texts are compared around their first difference, so a failing 500 kB render prints a readable diff. */
const DIFF_WINDOW = 400;

const views = viewsFolder();
let plain: PlainResults;

beforeAll(async () => {
  for (const kase of cases) {
    for (const [name, source] of Object.entries(kase.files)) views.write(`${kase.id}/${name}`, source);
  }
  const resultsFile = path.join(views.dir, 'plain-results.json');
  await promisify(execFile)(process.execPath, [PLAIN_RENDERER, views.dir, resultsFile]);
  plain = JSON.parse(fs.readFileSync(resultsFile, 'utf8')) as PlainResults;
}, 300_000);

afterAll(() => fs.rmSync(views.dir, { recursive: true, force: true }));

// The harness must not pass vacuously: a real corpus, really rendered, meaning what it says.
describe('the differential corpus', () => {
  const expected = (kase: Case) => plain.results[kase.id].expected;

  it('has at least 150 hand-written and 200 generated cases', () => {
    expect(handWritten.length).toBeGreaterThanOrEqual(150);
    expect(generated.length).toBe(200);
    expect(new Set(cases.map((kase) => `${kase.section} / ${kase.title}`)).size).toBe(cases.length);
  });

  it('was rendered by a process that loaded nothing of this library', () => {
    expect(Object.keys(plain.results)).toHaveLength(cases.length);
    expect(plain.repositoryModules).toEqual([]);
  });

  it('renders each hand-written case plainly as it means to: output, or an error where it is meant to fail', () => {
    const unintended = handWritten.filter((kase) => expected(kase).result !== (kase.fails ? 'error' : 'output'));
    expect(unintended.map((kase) => `${kase.title}: ${expected(kase).result} ${expected(kase).text}`)).toEqual([]);
    expect(handWritten.filter((kase) => kase.fails).length).toBeGreaterThanOrEqual(40);
  });

  it('gives non-empty output in most cases', () => {
    const nonEmpty = (list: Case[]) => list.filter((kase) => expected(kase).result === 'output' && expected(kase).text.trim() !== '').length;
    expect(nonEmpty(handWritten)).toBeGreaterThanOrEqual(0.85 * handWritten.length);
    expect(nonEmpty(generated)).toBeGreaterThanOrEqual(0.75 * generated.length);
  });

  it('has cases holding cache tags, and sync-equivalent ones, hand-written and generated', () => {
    for (const list of [handWritten, generated]) {
      expect(list.filter((kase) => kase.cached).length).toBeGreaterThanOrEqual(30);
      expect(list.filter((kase) => kase.expect === 'sync-equivalent').length).toBeGreaterThanOrEqual(15);
    }
  });

  it("leaves the caller's data unchanged with plain nunjucks", () => {
    const changed = cases.filter((kase) => expected(kase).context !== snapshot(kase.context()));
    expect(changed.map((kase) => kase.title)).toEqual([]);
  });

  it("marks 'plain' only cases that plain nunjucks gets right: the same with a sync loader and sync filters", () => {
    const mismarked = cases.filter((kase) => kase.expect === 'plain' && !isDeepEqual(plain.results[kase.id].sync, expected(kase)));
    expect(mismarked.map((kase) => kase.title)).toEqual([]);
  });

  it('prints what the issue says plain nunjucks prints', () => {
    const stated = cases.filter((kase) => kase.output !== undefined);
    expect(stated.length).toBeGreaterThanOrEqual(10);
    expect(stated.map((kase) => [kase.title, expected(kase).text])).toEqual(stated.map((kase) => [kase.title, kase.output]));
  });
});

describe.each(storeKinds)('with the extension on the %s store, each case renders as plain nunjucks', (kind) => {
  const caches = cacheFactory(kind, 'differential');
  afterEach(() => caches.closeAll());

  for (const [section, sectionCases] of bySection(cases)) {
    describe(section, () => {
      for (const kase of sectionCases) {
        it(
          kase.title,
          async () => {
            const env = extensionEnvironment(kase, caches.make());
            const { expected } = plain.results[kase.id];
            expectSameOutcome(await renderCase(env, kase), expected, 'cold');
            if (kase.cached) expectSameOutcome(await renderCase(env, kase), expected, 'warm');
          },
          (kase.cached ? 2 : 1) * kase.timeoutMs + 5000,
        );
      }
    });
  }
});

/** The case's loader, options, filters and globals, and the extension added as a user adds it. */
function extensionEnvironment(kase: Case, cache: Cache): nunjucks.Environment {
  const env = new nunjucks.Environment(makeLoader(kase.loader, path.join(views.dir, kase.id)), { ...kase.options });
  addExtras(env, { asyncFilters: true });
  env.addExtension('CacheExtension', new CacheExtension(cache));
  return env;
}

function expectSameOutcome(actual: Outcome, expected: Outcome, render: 'cold' | 'warm'): void {
  const [text, expectedText] = aroundFirstDifference(actual.text, expected.text);
  const [context, expectedContext] = aroundFirstDifference(actual.context, expected.context);
  expect({ render, result: actual.result, text, context }).toEqual({ render, result: expected.result, text: expectedText, context: expectedContext });
}

function aroundFirstDifference(actual: string, expected: string): [string, string] {
  if (actual.length + expected.length <= 2 * DIFF_WINDOW) return [actual, expected];
  let at = 0;
  while (at < actual.length && actual[at] === expected[at]) at++;
  const from = Math.max(0, at - DIFF_WINDOW / 4);
  const cut = (text: string) => `(${text.length} chars, from ${from}:) ${text.slice(from, from + DIFF_WINDOW)}`;
  return [cut(actual), cut(expected)];
}

function bySection(list: Case[]): Map<string, Case[]> {
  const sections = new Map<string, Case[]>();
  for (const kase of list) sections.set(kase.section, [...(sections.get(kase.section) ?? []), kase]);
  return sections;
}

function isDeepEqual(a: unknown, b: unknown): boolean {
  return JSON.stringify(a) === JSON.stringify(b);
}
