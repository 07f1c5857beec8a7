import { makeTemplateFragmentKey } from '../../src';

describe('makeTemplateFragmentKey', () => {
  it('gives different keys for inputs a plain join would confuse', () => {
    const keys = [
      makeTemplateFragmentKey('a_b'),
      makeTemplateFragmentKey('a', ['b']),
      makeTemplateFragmentKey('a:b'),
      makeTemplateFragmentKey('a', ['b', 'c']),
      makeTemplateFragmentKey('a', ['b,c']),
      makeTemplateFragmentKey('a', ['b/1:c']),
      makeTemplateFragmentKey('a', ['']),
      makeTemplateFragmentKey('a'),
      makeTemplateFragmentKey('a', ['', '']),
    ];
    expect(new Set(keys).size).toBe(keys.length);
  });

  it('stringifies vary values, so 1 and "1" are the same key on purpose', () => {
    expect(makeTemplateFragmentKey('p', [1])).toBe(makeTemplateFragmentKey('p', ['1']));
    expect(makeTemplateFragmentKey('p', [true])).toBe(makeTemplateFragmentKey('p', ['true']));
    expect(makeTemplateFragmentKey('p', [null])).toBe(makeTemplateFragmentKey('p', [undefined]));
  });

  it('serializes objects stably: key order does not matter, values do', () => {
    expect(makeTemplateFragmentKey('p', [{ a: 1, b: { c: 2, d: 3 } }])).toBe(makeTemplateFragmentKey('p', [{ b: { d: 3, c: 2 }, a: 1 }]));
    expect(makeTemplateFragmentKey('p', [{ a: 1 }])).not.toBe(makeTemplateFragmentKey('p', [{ a: 2 }]));
    expect(makeTemplateFragmentKey('p', [[1, 2]])).not.toBe(makeTemplateFragmentKey('p', [[2, 1]]));
  });

  it('keys a record by its cacheKey()', () => {
    const record = { id: 7, cacheKey: () => 'product/7-v3' };
    expect(makeTemplateFragmentKey('p', [record])).toBe(makeTemplateFragmentKey('p', [{ id: 8, cacheKey: () => 'product/7-v3' }]));
  });

  it('bounds long keys with a digest, still unique', () => {
    const long = makeTemplateFragmentKey('p', ['x'.repeat(5000)]);
    expect(long.length).toBeLessThan(100);
    expect(long).not.toBe(makeTemplateFragmentKey('p', ['x'.repeat(5001)]));
  });

  it('refuses bad names and unkeyable vary values, naming the fragment', () => {
    expect(() => makeTemplateFragmentKey('')).toThrow(/fragment name/);
    expect(() => makeTemplateFragmentKey(42 as never)).toThrow(TypeError);
    expect(() => makeTemplateFragmentKey('p', 'id' as never)).toThrow(/varyOn of fragment "p" must be an array/);
    const cycle: Record<string, unknown> = {};
    cycle.self = cycle;
    expect(() => makeTemplateFragmentKey('p', [cycle])).toThrow(/fragment "p".*circular/);
    expect(() => makeTemplateFragmentKey('p', [() => 1])).toThrow(/fragment "p".*function/);
    expect(() => makeTemplateFragmentKey('p', [new (class Product {})()])).toThrow(/Product instance; give it a cacheKey\(\)/);
  });
});
