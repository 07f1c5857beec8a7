import { timeoutToMs } from '../../src/core/timeout';

describe('timeouts are seconds or duration strings', () => {
  it.each([
    [60, 60_000],
    [0.5, 500],
    [0, 0],
    ['90s', 90_000],
    ['5m', 300_000],
    ['1h', 3_600_000],
    ['1d', 86_400_000],
    ['45', 45_000],
    [' 2m ', 120_000],
  ])('%p → %p ms', (given, ms) => {
    expect(timeoutToMs(given, 1234)).toBe(ms);
  });

  it('undefined and null mean the default', () => {
    expect(timeoutToMs(undefined, 1234)).toBe(1234);
    expect(timeoutToMs(null, 1234)).toBe(1234);
  });

  it('refuses negative numbers and strings with a RangeError naming the value', () => {
    expect(() => timeoutToMs(-1, 0, 'timeout of key "k"')).toThrow(new RangeError('timeout of key "k" must be a finite number of seconds >= 0, got -1'));
    expect(() => timeoutToMs('-5m', 0)).toThrow(RangeError);
    expect(() => timeoutToMs(NaN, 0)).toThrow(/got NaN/);
    expect(() => timeoutToMs(Infinity, 0)).toThrow(RangeError);
  });

  it('refuses unparsable strings and other types with a TypeError naming the value', () => {
    expect(() => timeoutToMs('soon', 0)).toThrow(new TypeError('timeout "soon" is not a duration: use seconds or a string like "90s", "5m", "1h", "1d"'));
    expect(() => timeoutToMs('5 minutes', 0)).toThrow(TypeError);
    expect(() => timeoutToMs({} as never, 0)).toThrow(/got object/);
  });
});
