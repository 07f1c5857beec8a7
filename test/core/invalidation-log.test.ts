import { InvalidationLog, invalidationMark } from '../../src/core/invalidation-log';

describe('InvalidationLog', () => {
  it('tells, per tag, whether it was invalidated after a mark', () => {
    const log = new InvalidationLog();
    const before = invalidationMark();
    expect(log.since(['tag:a'], before)).toBe(false);
    log.invalidated(['tag:a']);
    const between = invalidationMark();
    expect(between).toBeGreaterThan(before);
    expect(log.since(['tag:a'], before)).toBe(true);
    expect(log.since(['tag:b'], before)).toBe(false);
    expect(log.since(['tag:b', 'tag:a'], before)).toBe(true);
    expect(log.since(['tag:a'], between)).toBe(false);
  });

  it('marks are shared by every log in the process', () => {
    const one = new InvalidationLog();
    const other = new InvalidationLog();
    const before = invalidationMark();
    other.invalidated(['tag:x']);
    expect(invalidationMark()).toBeGreaterThan(before);
    expect(one.since(['tag:x'], before)).toBe(false);
    expect(other.since(['tag:x'], before)).toBe(true);
  });

  it("'all' counts every tag as invalidated for earlier marks", () => {
    const log = new InvalidationLog();
    const before = invalidationMark();
    log.invalidated('all');
    expect(log.since(['tag:never-named'], before)).toBe(true);
    expect(log.since(['tag:never-named'], invalidationMark())).toBe(false);
  });

  it('past 10 000 remembered tags, forgets the oldest half and answers true for marks before them', () => {
    const log = new InvalidationLog();
    const before = invalidationMark();
    for (let i = 0; i < 10_001; i++) log.invalidated([`tag:${i}`]);
    const after = invalidationMark();
    expect(log.since(['tag:never-named'], before)).toBe(true); // tag:0 was forgotten: it may have been this one
    expect(log.since(['tag:never-named'], after)).toBe(false);
    expect(log.since(['tag:10000'], after - 1)).toBe(true);
  });
});
