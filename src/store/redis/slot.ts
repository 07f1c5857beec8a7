/** CRC16-CCITT (XModem), the hash Redis Cluster maps keys to its 16384 slots with. */
const TABLE = (() => {
  const table = new Uint16Array(256);
  for (let i = 0; i < 256; i++) {
    let crc = i << 8;
    for (let bit = 0; bit < 8; bit++) crc = crc & 0x8000 ? (crc << 1) ^ 0x1021 : crc << 1;
    table[i] = crc & 0xffff;
  }
  return table;
})();

export const SLOTS = 16384;

/**
 * The cluster slot of `key` (of its UTF-8 bytes), honouring hash tags: when the key holds `{…}`
 * with something between the braces, only that part is hashed.
 */
export function keySlot(key: string): number {
  let bytes = Buffer.from(key);
  const open = bytes.indexOf(0x7b); // {
  if (open >= 0) {
    const close = bytes.indexOf(0x7d, open + 1); // }
    if (close > open + 1) bytes = bytes.subarray(open + 1, close);
  }
  let crc = 0;
  for (const byte of bytes) crc = ((crc << 8) & 0xffff) ^ TABLE[((crc >> 8) ^ byte) & 0xff];
  return crc % SLOTS;
}

/** The master of some slots and its replicas, as `host:port`. */
export interface Shard {
  master: string;
  replicas: string[];
}

/** A CLUSTER SLOTS reply as the shard of each slot, its masters and every node it names; undefined if it is not one. */
export function readSlotMap(reply: unknown, fromHost: string): { slots: (Shard | undefined)[]; masters: Set<string>; nodes: string[] } | undefined {
  if (!Array.isArray(reply) || reply.length === 0) return undefined;
  // A node announced without a host is on the host that answered.
  const address = (node: unknown[]) => `${node[0] === '' || node[0] === '?' ? fromHost : String(node[0])}:${Number(node[1])}`;
  const slots = new Array<Shard | undefined>(SLOTS);
  const masters = new Set<string>();
  const everyone = new Set<string>();
  for (const range of reply as unknown[][]) {
    const [first, last, master, ...replicas] = range as [number, number, unknown[], ...unknown[][]];
    const shard: Shard = { master: address(master), replicas: replicas.map(address) };
    masters.add(shard.master);
    everyone.add(shard.master);
    for (const replica of shard.replicas) everyone.add(replica);
    for (let slot = Number(first); slot <= Number(last); slot++) slots[slot] = shard;
  }
  return { slots, masters, nodes: [...everyone] };
}
