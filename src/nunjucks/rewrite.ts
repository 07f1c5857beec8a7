import type { AstNode, NodeTypes } from './nunjucks-copy';
import { keyArguments, siteOf } from './tag-arguments';

/**
 * The one change the extension makes to templates it did not write, applied to every template an
 * Environment holding it parses: a `for` or `if` whose body (within the same compiled function) holds
 * something that may finish later — an include, a block, an import, a cache tag — becomes `KfcFor` /
 * `KfcIf`, which wait for it (nunjucks' plain `for`/`if` would drop its output: mozilla/nunjucks#792).
 * Bodies that nunjucks runs synchronously and that reach other templates (macros, `{% call %}`,
 * `{% set %}` and `{% filter %}` blocks) are marked `KfcSyncOnly`, so that a cache tag reached from
 * them knows it must answer at once. Nothing else is touched.
 *
 * A cache tag directly inside such a body could never be waited for: it is refused here, with the
 * template, line and the delimiters the Environment uses.
 */
export interface RewriteContext {
  nodes: NodeTypes;
  /** The name compiled templates find the extension by. */
  extName: string;
  /** Throws the error for a cache tag inside a body that cannot wait (`what`: macro, call, set, filter). */
  refuse(tag: AstNode, what: string): never;
}

/** Statements that may finish later: what encloses them must wait. */
const WAITS = new Set(['Include', 'Import', 'FromImport', 'Extends', 'Block', 'KfcCache', 'KfcHole']);

export function rewriteTemplate(root: AstNode, context: RewriteContext): void {
  visit(root, context, undefined);
}

/**
 * Rewrites inside `node` and tells whether it, within the current function, holds something that may
 * finish later. `syncOnly` names the innermost enclosing body that cannot wait, if any.
 */
function visit(node: AstNode, context: RewriteContext, syncOnly: string | undefined): boolean {
  const { typename } = node;
  if (typename === 'KfcCache') {
    if (syncOnly) context.refuse(node, syncOnly);
    // Its body is a function of its own that the tag waits for: rewrite inside it, report "waits".
    for (const body of node.contentArgs as AstNode[]) if (body) visit(body, context, undefined);
    return true;
  }
  if (typename === 'Block') {
    visit(node.body, context, syncOnly);
    return true;
  }
  const syncBody = syncOnlyBody(node);
  if (syncBody) {
    if (visit(syncBody.body.body, context, syncBody.what)) {
      const { body } = syncBody.body;
      syncBody.body.body = new context.nodes.KfcSyncOnly(body.lineno, body.colno, body, syncBody.what, context.extName);
    }
    return false; // a definition or a capture: nothing here is left to wait for
  }
  const waits = visitChildren(node, context, syncOnly) || WAITS.has(typename);
  // Inside a body that cannot wait, waiting would not help: nunjucks' own for/if stay.
  if (waits && !syncOnly && (typename === 'For' || typename === 'If')) {
    // In place, keeping every field: the node's parent needs no change.
    Object.setPrototypeOf(node, (typename === 'For' ? context.nodes.KfcFor : context.nodes.KfcIf).prototype);
    node.extName = context.extName;
    if (typename === 'For') node.prefetch = prefetchable(node.body);
  }
  return waits;
}

/**
 * The cache tags of a loop's body whose keys can be computed before the loop runs (collection
 * multi-get): tags that are statements of the body itself, keyed by expressions that only read
 * variables (evaluating them twice changes nothing). Kept as a plain list of the tags' site and key
 * arguments, which nunjucks' transformer leaves as they are.
 */
function prefetchable(body: AstNode): Prefetch[] | undefined {
  const found: Prefetch[] = [];
  for (const statement of body.children ?? []) {
    if (statement.typename !== 'KfcCache') continue;
    const keyArgs = keyArguments(statement);
    if (keyArgs.every(readsOnly)) found.push({ site: siteOf(statement), keyArgs });
  }
  return found.length > 0 ? found : undefined;
}

/** A cache tag of a loop's body whose key is computed before the loop runs: its site, its name and vary expressions. */
export interface Prefetch {
  site: string;
  keyArgs: AstNode[];
}

const READS_ONLY = new Set(['Literal', 'Symbol', 'LookupVal', 'Group', 'Add', 'Concat', 'Sub', 'Mul']);

function readsOnly(node: AstNode): boolean {
  return READS_ONLY.has(node.typename) && children(node).every((child) => !isNode(child) || readsOnly(child));
}

function visitChildren(node: AstNode, context: RewriteContext, syncOnly: string | undefined): boolean {
  let waits = false;
  for (const child of children(node)) if (isNode(child) && visit(child, context, syncOnly)) waits = true;
  return waits;
}

function isNode(value: unknown): value is AstNode {
  return typeof value === 'object' && value !== null && typeof (value as AstNode).typename === 'string';
}

function children(node: AstNode): AstNode[] {
  if (Array.isArray(node.children)) return node.children;
  return node.fields.flatMap((field) => {
    const value = node[field];
    return Array.isArray(value) ? (value as AstNode[]) : [value as AstNode];
  });
}

/**
 * The body nunjucks runs synchronously under `node`, if any: a macro's or `{% call %}`'s (holder:
 * the node), a `{% set x %}…{% endset %}` or `{% filter f %}…{% endfilter %}` capture's.
 */
function syncOnlyBody(node: AstNode): { body: AstNode; what: string } | undefined {
  if (node.typename === 'Macro') return { body: node, what: 'macro' };
  if (node.typename === 'Caller') return { body: node, what: 'call' };
  if (node.typename === 'Set' && node.body?.typename === 'Capture') return { body: node.body, what: 'set' };
  const captured = node.typename === 'Filter' ? node.args?.children?.[0] : undefined;
  if (captured?.typename === 'Capture') return { body: captured, what: 'filter' };
  return undefined;
}
