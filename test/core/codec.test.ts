import { runInNewContext } from 'node:vm';
import { decode, decodeEntry, encode, encodeEntry, isPlainObject, UnstorableValueError, withHeader } from '../../src/core/codec';

const roundTrip = (value: unknown) => decode(encode('k', value));

/** `{ a: { a: … { a: 'leaf' } } }` with `levels` objects. */
function nested(levels: number): Record<string, unknown> {
  let value: Record<string, unknown> = { a: 'leaf' };
  for (let i = 1; i < levels; i++) value = { a: value };
  return value;
}

describe('encode and decode', () => {
  it('store a string as s<text> and a Buffer as b<base64>, both O(1) to tell apart', () => {
    expect(encode('k', '<p>hi</p>')).toBe('s<p>hi</p>');
    expect(encode('k', '')).toBe('s');
    expect(encode('k', Buffer.from([0, 1, 255]))).toBe('bAAH/');
    expect(decode('s<p>hi</p>')).toBe('<p>hi</p>');
    expect(decode('bAAH/')).toEqual(Buffer.from([0, 1, 255]));
  });

  it.each<[string, unknown]>([
    ['a string that looks like another form', 'j{"$b":"AAE="}'],
    ['a unicode string', 'héllo ✓ 🚀'],
    ['an empty Buffer', Buffer.alloc(0)],
    ['an integer', 42],
    ['a float', -1.5e-7],
    ['zero', 0],
    ['false', false],
    ['null', null],
    ['an empty object', {}],
    ['an empty array', []],
    ['nested arrays and objects', { list: [1, [2, [3]], { deep: { er: null } }], s: 'x' }],
    ['an object holding a Buffer', { body: Buffer.from('bytes'), type: 'text/plain' }],
    ['an array of Buffers', [Buffer.from('a'), Buffer.from([]), { b: Buffer.from([7]) }]],
  ])('round-trip %s exactly', (_label, value) => {
    expect(roundTrip(value)).toEqual(value);
  });

  it('keep Buffers nested at any depth as Buffers', () => {
    const decoded = roundTrip({ page: { parts: [Buffer.from('<p>'), Buffer.from('</p>')] } }) as { page: { parts: unknown[] } };
    expect(decoded.page.parts.every((part) => Buffer.isBuffer(part))).toBe(true);
    expect(Buffer.concat(decoded.page.parts as Buffer[]).toString()).toBe('<p></p>');
    expect(encode('k', { b: Buffer.from([1]) })).toBe('j{"b":{"$b":"AQ=="}}');
  });

  it('keep -0, which JSON would turn into 0, at the top and nested', () => {
    expect(encode('k', -0)).toBe('j{"$n":"-0"}');
    expect(Object.is(roundTrip(-0), -0)).toBe(true);
    const decoded = roundTrip({ n: -0, list: [0, -0] }) as { n: number; list: number[] };
    expect(Object.is(decoded.n, -0)).toBe(true);
    expect(Object.is(decoded.list[0], 0)).toBe(true);
    expect(Object.is(decoded.list[1], -0)).toBe(true);
  });

  it('escape keys starting with "$", so user data never reads as a Buffer or -0', () => {
    const lookalikes = { $b: 'AQ==', $n: '-0', $$b: 'two', $: 'bare', price: '$5' };
    expect(encode('k', { $b: 'AQ==' })).toBe('j{"$$b":"AQ=="}');
    expect(roundTrip(lookalikes)).toEqual(lookalikes);
    expect(roundTrip({ $b: 'AQ==' })).toEqual({ $b: 'AQ==' }); // a one-key object, not a Buffer
    expect(roundTrip([{ $n: '-0' }])).toEqual([{ $n: '-0' }]);
    expect(roundTrip({ nested: { $ref: 1, list: [{ $id: 'x' }] } })).toEqual({ nested: { $ref: 1, list: [{ $id: 'x' }] } });
  });

  it('keep a __proto__ own key as data: no prototype change, no pollution', () => {
    const value = JSON.parse('{"__proto__": {"polluted": true}, "a": 1}') as Record<string, unknown>;
    for (const variant of [value, { ...JSON.parse('{"__proto__": {"polluted": true}}'), $dollar: 1 }]) {
      // With a "$" key the decoder rebuilds objects itself; without, JSON.parse's own keys are kept.
      const decoded = roundTrip(variant) as Record<string, unknown>;
      expect(Object.getPrototypeOf(decoded)).toBe(Object.prototype);
      expect(Object.prototype.hasOwnProperty.call(decoded, '__proto__')).toBe(true);
      expect(Object.getOwnPropertyDescriptor(decoded, '__proto__')?.value).toEqual({ polluted: true });
      expect((decoded as { polluted?: unknown }).polluted).toBeUndefined();
      expect(({} as { polluted?: unknown }).polluted).toBeUndefined();
    }
    expect(encode('k', value)).toBe('j{"__proto__":{"polluted":true},"a":1}');
    const escaped = roundTrip(JSON.parse('{"$__proto__": 1}')) as Record<string, unknown>;
    expect(Object.keys(escaped)).toEqual(['$__proto__']);
  });

  it('drop an undefined property, as JSON does, and accept a shared (non-circular) reference', () => {
    expect(roundTrip({ a: 1, gone: undefined })).toEqual({ a: 1 });
    expect(Object.keys(roundTrip({ gone: undefined }) as object)).toEqual([]);
    const shared = { x: 1 };
    expect(roundTrip({ left: shared, right: shared, list: [shared, shared] })).toEqual({ left: { x: 1 }, right: { x: 1 }, list: [{ x: 1 }, { x: 1 }] });
  });

  it('accept plain objects from another realm and without a prototype', () => {
    const foreign = runInNewContext('({ a: [1, { b: 2 }] })') as object;
    expect(isPlainObject(foreign)).toBe(true);
    expect(roundTrip(foreign)).toEqual({ a: [1, { b: 2 }] });
    const bare = Object.assign(Object.create(null) as object, { k: 'v' });
    expect(isPlainObject(bare)).toBe(true);
    expect(roundTrip(bare)).toEqual({ k: 'v' });
    expect(isPlainObject(new (class Point {})())).toBe(false);
  });

  it('refuse to decode what is not an entry', () => {
    expect(() => decode('xnot ours')).toThrow(new TypeError('not a koa-fragment-cache entry: "xnot ours"'));
    expect(() => decode('')).toThrow(TypeError);
    expect(() => decode('j{broken')).toThrow(SyntaxError);
  });
});

describe('refusals', () => {
  class Point {
    x = 1;
  }
  const sparse = [1, , 3]; // eslint-disable-line no-sparse-arrays
  const withProperty = Object.assign([1, 2], { extra: true });

  it.each<[string, unknown, string]>([
    ['undefined', undefined, 'the value is undefined (undefined means "miss")'],
    ['a function', () => 1, 'the value is a function'],
    ['a symbol', Symbol('s'), 'the value is a symbol'],
    ['a bigint', 1n, 'the value is a bigint'],
    ['NaN', NaN, 'the value is NaN, which JSON cannot hold'],
    ['Infinity nested', { price: { max: Infinity } }, 'the value.price.max is Infinity, which JSON cannot hold'],
    ['-Infinity in an array', [1, -Infinity], 'the value[1] is -Infinity, which JSON cannot hold'],
    ['a Date', { when: new Date(0) }, 'the value.when is a Date; only plain objects, arrays and Buffers can be cached'],
    ['a Map', [new Map()], 'the value[0] is a Map; only plain objects, arrays and Buffers can be cached'],
    ['a class instance', { at: new Point() }, 'the value.at is a Point; only plain objects, arrays and Buffers can be cached'],
    ['undefined in an array', { list: [1, undefined] }, 'the value.list[1] is undefined'],
    ['a hole in a sparse array', { list: sparse }, 'the value.list[1] is a hole in a sparse array, which JSON would turn into null'],
    ['an array with a property', withProperty, 'the value has a property "extra" besides its items, which JSON would drop'],
    ['symbol keys', { inner: { [Symbol('s')]: 1 } }, 'the value.inner has symbol keys, which JSON would drop'],
    ['a function deep inside', { a: [{ b: { c: () => 0 } }] }, 'the value.a[0].b.c is a function'],
  ])('refuse %s, naming the key and where in the value', (_label, value, problem) => {
    let thrown: unknown;
    try {
      encode('page:1', value);
    } catch (err) {
      thrown = err;
    }
    expect(thrown).toBeInstanceOf(UnstorableValueError);
    expect(thrown).toBeInstanceOf(TypeError);
    expect((thrown as Error).name).toBe('UnstorableValueError');
    expect((thrown as Error).message).toBe(`cannot cache key "page:1": ${problem}`);
  });

  it('refuse a cycle, naming the path where it closes', () => {
    const cycle: Record<string, unknown> = { list: [] };
    (cycle.list as unknown[]).push({ back: cycle });
    expect(() => encode('c', cycle)).toThrow(new UnstorableValueError('c', 'the value.list[0].back', 'is a circular reference'));
  });

  it('take values nested 1000 levels deep and refuse deeper ones (which would overflow the stack)', () => {
    expect(roundTrip(nested(1000))).toEqual(nested(1000));
    expect(() => encode('deep', nested(1001))).toThrow(UnstorableValueError);
    expect(() => encode('deep', nested(1001))).toThrow(/^cannot cache key "deep": the value(\.a){1000} is nested more than 1000 levels deep$/);
    expect(() => encode('deep', nested(100_000))).toThrow(/nested more than 1000 levels deep/);
    let list: unknown[] = [];
    for (let i = 0; i < 1000; i++) list = [list];
    expect(() => encode('deep', list)).toThrow(/the value(\[0\]){1000} is nested more than 1000 levels deep/);
  });
});

describe('entries with a header', () => {
  it('round-trip tags, the write time, holes and the digest with the value', () => {
    const entry = { value: { html: '<p>x</p>' }, tags: { 'product:1': 'v1', 'a:b': 'v2' }, storedAt: 1_700_000_000_123, holes: ['n1', 'n2'], digest: 'd:abc' };
    const data = encodeEntry('k', entry);
    expect(data).toMatch(/^t\d+:\{/);
    expect(decodeEntry(data)).toEqual(entry);
  });

  it('write a bare value, with no header, when there is nothing to record', () => {
    expect(encodeEntry('k', { value: 'frag' })).toBe('sfrag');
    expect(encodeEntry('k', { value: [1] })).toBe('j[1]');
    expect(decodeEntry('sfrag')).toEqual({ value: 'frag' });
    expect(decodeEntry('j[1]')).toEqual({ value: [1] });
  });

  it('read the value after the header whatever it holds (colons, header-like text, Buffers, -0)', () => {
    for (const value of ['t5:{"a":1}s', 'a:b:c', Buffer.from('raw'), -0, { $b: 'x' }]) {
      const decoded = decodeEntry(withHeader(encode('k', value), { tags: { t: '1' } }));
      expect(decoded.tags).toEqual({ t: '1' });
      expect(decoded.value).toEqual(value);
    }
  });

  it('record in the header only what was given', () => {
    const data = withHeader('sx', { storedAt: 5 });
    expect(data).toBe('t8:{"at":5}sx');
    expect(decodeEntry(data)).toStrictEqual({ value: 'x', storedAt: 5, tags: undefined, holes: undefined, digest: undefined });
  });
});
