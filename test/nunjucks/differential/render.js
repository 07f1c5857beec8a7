const { snapshot } = require('./snapshot');

/**
 * Renders a case once through the callback API and says what came of it: `output` (the text),
 * `error` (its message), `thrown` (render threw despite the callback) or `hang` (no callback within
 * the case's timeoutMs) — and the caller's data afterwards.
 */
function renderCase(env, kase, source = kase.source) {
  const context = kase.context();
  return new Promise((resolve) => {
    let done = false;
    const finish = (result, text) => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      resolve({ result, text, context: snapshot(context) });
    };
    const timer = setTimeout(() => finish('hang', `no callback within ${kase.timeoutMs} ms`), kase.timeoutMs);
    const callback = (err, output) => (err ? finish('error', messageOf(err)) : finish('output', String(output)));
    try {
      if (source !== undefined) env.renderString(source, context, callback);
      else env.render(kase.template, context, callback);
    } catch (err) {
      finish('thrown', messageOf(err));
    }
  });
}

function messageOf(err) {
  return err instanceof Error ? err.message : String(err);
}

module.exports = { renderCase };
