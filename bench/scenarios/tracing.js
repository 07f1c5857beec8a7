// Tracing overhead: the response hit and miss paths on the memory store with nobody subscribed to
// the library's diagnostics channels (TRACING_CHANNELS: koa-fragment-cache:compute, :refresh, :lock,
// :store) and with a no-op subscriber on all four, the way a tracer (koa-fragment-cache/otel)
// subscribes. Beside them the same baselines as Response hits and Miss overhead (bare Koa + router;
// the route uncached, new URL each request), so that the unsubscribed ratios can be set beside
// those scenarios' rows: unsubscribed, the cache publishes nothing and checks `hasSubscribers` only.
'use strict';

const { pageApp, cachedApp } = require('../lib/apps');

/**
 * Subscribes handlers that do nothing (but count the traces begun, so that the probe shows the
 * path was traced) to every tracing channel of the library.
 */
function noOpSubscriber() {
  const { tracingChannel } = require('node:diagnostics_channel');
  const { TRACING_CHANNELS } = require('../../dist');
  let traces = 0;
  const handlers = {
    start: () => void traces++,
    end() {},
    asyncStart() {},
    asyncEnd() {},
    error() {},
  };
  for (const name of Object.values(TRACING_CHANNELS)) tracingChannel(name).subscribe(handlers);
  return () => traces;
}

/** cachedApp on a new memory Cache; `traced`: with the no-op subscriber, its traces in the probe. */
function subject(options, traced) {
  const { Cache } = require('../../dist');
  const traces = traced ? noOpSubscriber() : () => 0;
  const built = cachedApp(new Cache(), options);
  return { ...built, probe: () => ({ ...built.probe(), traces: traces() }) };
}

/** Per round: the server CPU µs per request of `subject` minus that of `baseline` (same round). */
const cpuOver = (subject, baseline) => (result) =>
  result.subjects[subject].samples.map((s, i) => s.cpuUsPerRequest - result.subjects[baseline].samples[i].cpuUsPerRequest);

module.exports = {
  title: 'Tracing overhead',
  order: 25,
  kind: 'http',
  rounds: 9,
  about:
    '`GET /page`, 10 KB of HTML, `cached()` on the memory store, with nobody subscribed to the tracing channels and with a no-op subscriber on all four; ' +
    'hits on one URL, misses on a new URL each request. On the memory store a hit publishes nothing either way (no computation, no store call).',
  sameBody: true,
  subjects: {
    bare: { label: 'bare Koa + router', app: () => pageApp() },
    hits: { label: 'hits, nobody subscribed', expect: 'hits', app: () => subject({}, false) },
    'hits traced': { label: 'hits, a no-op subscriber on every tracing channel', expect: 'hits', app: () => subject({}, true) },
    uncached: { label: 'route without the cache, new URL each request', newUrl: true, app: () => pageApp() },
    misses: { label: 'misses (new URL each request), nobody subscribed', newUrl: true, expect: 'misses', app: () => subject({ timeout: 60 }, false) },
    'misses traced': { label: 'misses (new URL each request), a no-op subscriber on every tracing channel', newUrl: true, expect: 'misses', app: () => subject({ timeout: 60 }, true) },
  },
  rows: [
    { measure: 'hits: a no-op subscriber on the tracing channels vs nobody subscribed', subject: 'hits traced', baseline: 'hits' },
    { measure: 'misses: a no-op subscriber on the tracing channels vs nobody subscribed', subject: 'misses traced', baseline: 'misses' },
    // Server CPU per request moves less than requests/second when the machine is shared.
    { measure: 'hits: server CPU per request with the no-op subscriber minus without', value: cpuOver('hits traced', 'hits'), unit: ' µs', digits: 1 },
    { measure: 'misses: server CPU per request with the no-op subscriber minus without', value: cpuOver('misses traced', 'misses'), unit: ' µs', digits: 1 },
    { measure: 'hits, nobody subscribed, vs bare Koa + router (the pair of Response hits’ first row)', subject: 'hits', baseline: 'bare' },
    { measure: 'misses, nobody subscribed, vs the route uncached (the pair of Miss overhead’s row)', subject: 'misses', baseline: 'uncached' },
    {
      measure: 'computations traced per miss with the subscriber (1: every miss traced)',
      value: (result) => result.subjects['misses traced'].samples.map((s) => s.probe.traces / s.requests),
      digits: 2,
    },
  ],
};
