import { baseKey, DEFAULT_RESPONSE_KEY_PREFIX, splitPath, variantKey, type QueryInput } from './response-key';
import { PROTOCOL } from './request-facts';
import { isVaryIndex, type StoredResponses } from './stored-entry';

export interface DeleteCachedOptions {
  /** The query, matched as the middleware keys it: `'b=2&a=1'`, `{ a: 1, b: [2, 3] }` or `[['a', '1']]`. */
  query?: QueryInput;
  /** Only this host's entry (the Host header, with its port if any). Default: every host's. */
  host?: string;
  /** The route's `keyPrefix`, if it set a string one. */
  keyPrefix?: string;
}

/**
 * Removes the stored response of `path` (a query may also be given in the path). Resolves whether
 * there was one to remove. With `host`, only that host's entries go (over http and https) when the
 * route varies by nothing else; when it varies by other request facts too, whose values are
 * unknown here, every variant of the path goes.
 */
export async function deleteCached(responses: StoredResponses, path: string, options: DeleteCachedOptions = {}): Promise<boolean> {
  const { engine } = responses;
  const route = splitPath(path, options.query);
  const base = baseKey(options.keyPrefix ?? DEFAULT_RESPONSE_KEY_PREFIX, route.path, route.query);
  if (options.host === undefined) return engine.delete(base);
  const host = options.host.toLowerCase();
  const index = responses.decode(base, (await engine.get(base))?.value);
  if (!isVaryIndex(index)) return false;
  if (!index.vary.every((name) => name === 'host' || name === PROTOCOL)) return engine.delete(base);
  // That host's variants over either protocol.
  const deleted = await Promise.all(['http', 'https'].map((protocol) => engine.delete(variantKey(base, index, (name) => (name === 'host' ? host : protocol)))));
  return deleted.some(Boolean);
}
