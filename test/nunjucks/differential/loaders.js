const fs = require('node:fs');
const path = require('node:path');
const nunjucks = require('nunjucks');

/** FileSystemLoader handing nunjucks transformed source under the same path (so error messages agree). */
class TransformingFileSystemLoader extends nunjucks.FileSystemLoader {
  constructor(dir, transform) {
    super(dir);
    this.transform = transform;
  }

  getSource(name) {
    const source = super.getSource(name);
    if (source) source.src = this.transform(source.src);
    return source;
  }
}

/**
 * Reads the same files, but answers in setImmediate, as a database or HTTP loader would: an
 * included template then goes async, which plain nunjucks mishandles inside for/if (nunjucks#792).
 */
class AsyncFileLoader extends nunjucks.Loader {
  constructor(dir, transform = (src) => src) {
    super();
    this.async = true;
    this.dir = path.resolve(dir);
    this.transform = transform;
  }

  getSource(name, cb) {
    const fullpath = path.resolve(this.dir, name);
    setImmediate(() =>
      fs.readFile(fullpath, 'utf8', (err, src) => cb(null, err ? null : { src: this.transform(src), path: fullpath, noCache: false })),
    );
  }
}

/** The loader a case asks for; without a transform, the sync one is nunjucks' own FileSystemLoader. */
function makeLoader(kind, dir, transform) {
  if (kind === 'async') return new AsyncFileLoader(dir, transform);
  return transform ? new TransformingFileSystemLoader(dir, transform) : new nunjucks.FileSystemLoader(dir);
}

module.exports = { makeLoader };
