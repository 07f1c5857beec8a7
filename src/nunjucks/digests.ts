import { createHash } from 'node:crypto';
import type { AstNode } from './nunjucks-copy';

/**
 * Deploy-safe fragments and pages (Rails' cache digests, done with nunjucks' own parser): what is
 * stored records a digest of what produced it — a fragment, its body and every template it
 * statically depends on; a page, its template and those it depends on — and a hit under another
 * digest (the templates changed in a deploy) is a miss. Keys do not change, so
 * `makeTemplateFragmentKey` still deletes the entry from code.
 *
 * A template's dependencies are the `include`, `import`, `from` and `extends` with literal names in
 * it, recursively; names computed at run time cannot be followed: the tag's `depends=[…]` declares
 * them. Digests are computed once per compiled template and Environment (again after a watching
 * loader reloads one; on every render with `noCache`, as nunjucks recompiles then too).
 */

/** The template names `node` statically depends on. */
export function staticDependencies(node: AstNode): string[] {
  const found = new Set<string>();
  const walk = (at: unknown): void => {
    if (Array.isArray(at)) return at.forEach(walk);
    if (typeof at !== 'object' || at === null || typeof (at as AstNode).typename !== 'string') return;
    const current = at as AstNode;
    if (DEPENDENCY_TYPES.has(current.typename) && current.template?.typename === 'Literal' && typeof current.template.value === 'string') {
      found.add(current.template.value);
    }
    for (const field of current.fields) walk(current[field]);
  };
  walk(node);
  return [...found].sort();
}

const DEPENDENCY_TYPES = new Set(['Include', 'Import', 'FromImport', 'Extends']);

/** A digest of a parsed body: its structure and text, not its position (code above it may move). */
export function astDigest(node: AstNode): string {
  const hash = createHash('sha256');
  const walk = (at: unknown): void => {
    if (Array.isArray(at)) {
      hash.update('[');
      at.forEach(walk);
      hash.update(']');
    } else if (typeof at === 'object' && at !== null && typeof (at as AstNode).typename === 'string') {
      const current = at as AstNode;
      hash.update(`(${current.typename}`);
      for (const field of current.fields) walk(current[field]);
      hash.update(')');
    } else {
      hash.update(JSON.stringify(at) ?? 'undefined');
    }
  };
  walk(node);
  return hash.digest('base64url').slice(0, 16);
}

export interface DigestedTemplate {
  tmplStr?: string;
  path?: string;
  compile(): void;
}

export interface DigestEnvironment {
  loaders: { noCache?: boolean; on?: (event: string, listener: () => void) => void }[];
  getTemplate(name: string, eagerCompile: boolean, parentName: string | null, ignoreMissing: boolean, cb: (err: unknown, template?: DigestedTemplate) => void): void;
}

type Done = (err: unknown, digest?: string) => void;

/** The digests of one extension's templates, per Environment. */
export class TemplateDigests {
  /** The dependencies of each template compiled by an Environment holding the extension (told by the parse hook). */
  readonly #dependencies = new WeakMap<object, string[]>();
  readonly #ofTemplate = new WeakMap<object, string>();
  /** Digests of cache tags' bodies with their dependencies, by site, per Environment whose templates stay cached. */
  readonly #ofSite = new WeakMap<object, Map<string, string>>();

  recordDependencies(template: object, names: string[]): void {
    this.#dependencies.set(template, names);
    this.#ofTemplate.delete(template);
  }

  /** The digest of a cache tag's body, known already (synchronously), if it is. */
  knownSite(env: object, site: string): string | undefined {
    return this.#ofSite.get(env)?.get(site);
  }

  /**
   * The digest of a cache tag's body (digested as `bodyDigest`) with the templates it depends on,
   * kept per site unless a loader reloads templates on every render (`noCache`); a watching loader's
   * reload forgets the Environment's site digests.
   */
  ofSite(env: DigestEnvironment, site: string, bodyDigest: string, dependencies: readonly string[], parentPath: string | undefined, done: Done): void {
    this.#combine(env, [bodyDigest], dependencies, parentPath, new Set(), (err, digest) => {
      if (!err && env.loaders.every((loader) => !loader.noCache)) this.#sitesOf(env).set(site, digest!);
      done(err, digest);
    });
  }

  #sitesOf(env: DigestEnvironment): Map<string, string> {
    let sites = this.#ofSite.get(env);
    if (!sites) {
      const created = new Map<string, string>();
      this.#ofSite.set(env, (sites = created));
      for (const loader of env.loaders) loader.on?.('update', () => created.clear());
    }
    return sites;
  }

  /** The digest of template `name` (its source and what it depends on). */
  ofTemplate(env: DigestEnvironment, name: string, done: Done): void {
    env.getTemplate(name, false, null, false, (err, template) => (err ? done(err) : this.#templateDigest(env, template!, new Set(), done)));
  }

  #templateDigest(env: DigestEnvironment, template: DigestedTemplate, visiting: Set<object>, done: Done): void {
    const known = this.#ofTemplate.get(template);
    if (known) return done(null, known);
    if (visiting.has(template)) return done(null, 'cycle');
    try {
      template.compile(); // the parse hook records its dependencies
    } catch (err) {
      return done(err);
    }
    visiting.add(template);
    this.#combine(env, [template.tmplStr ?? ''], this.#dependencies.get(template) ?? [], template.path, visiting, (err, digest) => {
      if (!err) this.#ofTemplate.set(template, digest!);
      done(err, digest);
    });
  }

  /** A digest of `parts` and of each dependency (resolved from `parentPath`), in name order. */
  #combine(env: DigestEnvironment, parts: string[], dependencies: readonly string[], parentPath: string | undefined, visiting: Set<object>, done: Done): void {
    const digests: string[] = new Array(dependencies.length);
    let pending = dependencies.length + 1;
    let failed = false;
    const settle = () => {
      if (--pending > 0 || failed) return;
      const hash = createHash('sha256');
      for (const part of parts) hash.update(part).update('\0');
      dependencies.forEach((name, i) => hash.update(`${name}=${digests[i]}\0`));
      done(null, hash.digest('base64url').slice(0, 16));
    };
    dependencies.forEach((name, i) => {
      env.getTemplate(name, false, parentPath ?? null, true, (err, template) => {
        if (failed) return;
        if (err) {
          failed = true;
          return done(err);
        }
        this.#templateDigest(env, template!, new Set(visiting), (depErr, digest) => {
          if (failed) return;
          if (depErr) {
            failed = true;
            return done(depErr);
          }
          digests[i] = digest!;
          settle();
        });
      });
    });
    settle();
  }
}
