'use strict';
// What koa-views or koa-nunjucks-2 does for an app: makes the nunjucks Environment with the copy of
// nunjucks it depends on (here nunjucks@3.2.4 exactly, installed under node_modules/views-lib/).
const path = require('node:path');
const nunjucks = require('nunjucks');

/** A FileSystemLoader Environment over `dir`, made by this package's nunjucks. */
function createViews(dir) {
  return new nunjucks.Environment(new nunjucks.FileSystemLoader(dir));
}

module.exports = {
  createViews,
  nunjucksVersion: require('nunjucks/package.json').version,
  nunjucksRoot: path.dirname(require.resolve('nunjucks/package.json')),
};
