/** Loop variable names that are JS reserved words or locals of nunjucks' compiled code. */
module.exports = ['class', 'default', 'new', 'function', 'var', 'this', 'output', 'frame', 'context', 'env', 'runtime', 'cb', 'next', 'lineno', 'colno', 't_1', 'parentTemplate'];
