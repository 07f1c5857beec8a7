import type nunjucks from 'nunjucks';

/** What one render came to, and the caller's data after it (a JSON snapshot). */
export interface Outcome {
  result: 'output' | 'error' | 'thrown' | 'hang';
  text: string;
  context: string;
}

export interface Case {
  /** Its folder under the views root. */
  id: string;
  section: string;
  title: string;
  files: Record<string, string>;
  template: string;
  /** Rendered with renderString instead of `template` when set. */
  source?: string;
  context: () => object;
  options: nunjucks.ConfigureOptions;
  loader: 'sync' | 'async';
  expect: 'plain' | 'sync-equivalent';
  /** Whether plain nunjucks is meant to error; unknown for generated cases. */
  fails?: boolean;
  /** What the issue says plain nunjucks prints. */
  output?: string;
  /** It holds cache tags: rendered cold and warm. */
  cached: boolean;
  timeoutMs: number;
  generated: boolean;
}

/** What the plain renderer writes: per case id, the expected outcome and (cases marked 'plain') the sync one. */
export interface PlainResults {
  results: Record<string, { expected: Outcome; sync?: Outcome }>;
  repositoryModules: string[];
}

export const cases: Case[];
export const handWritten: Case[];
export const generated: Case[];
export const PLAIN_RENDERER: string;
export function addExtras(env: nunjucks.Environment, options: { asyncFilters: boolean }): void;
export function makeLoader(kind: Case['loader'], dir: string): nunjucks.ILoaderAny;
export function renderCase(env: nunjucks.Environment, kase: Case): Promise<Outcome>;
export function snapshot(value: unknown): string;
