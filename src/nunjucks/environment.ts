import nunjucks from 'nunjucks';
import type { Cache } from '../cache';
import { CacheExtension, type CacheExtensionOptions } from './extension';

export interface EnvironmentOptions extends nunjucks.ConfigureOptions, CacheExtensionOptions {
  cache: Cache;
  /** Folder (or folders) the templates are loaded from. */
  views: string | string[];
}

/**
 * A nunjucks Environment that loads templates from `views` and has the `{% cache %}` tag.
 * Every other option is nunjucks' own (`autoescape` defaults to true, `tags` sets delimiters).
 * Render with the callback API (`env.render(name, ctx, cb)`) or `ctx.render` from `views()`:
 * a template with an async tag cannot render synchronously.
 */
export function createEnvironment({ cache, views, noCache, debugMarkers, ...options }: EnvironmentOptions): nunjucks.Environment {
  const loader = new nunjucks.FileSystemLoader(views, { noCache });
  const env = new nunjucks.Environment(loader, options);
  env.addExtension('CacheExtension', new CacheExtension(cache, { debugMarkers }));
  return env;
}
