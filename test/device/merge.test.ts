/**
 * The block layer's plug: back and front merges of address-contiguous
 * requests in the same direction up to max_sectors_kb, splitting of larger
 * ones, flushes as barriers, FUA writes never merged, the 32-request plug
 * limit, and the submitted/merged/dispatched counters.
 */
import { describe, expect, test } from '@jest/globals';
import { BlockLayer, PLUG_REQUESTS_MAX, type BlockRequest } from '../../src/device/model/merge.js';

const KiB = 1024;

function layer(maxBytes = 512 * KiB): { block: BlockLayer; out: BlockRequest[] } {
  const out: BlockRequest[] = [];
  return { block: new BlockLayer(maxBytes, (request) => out.push({ ...request })), out };
}

const write = (addrBytes: number, lengthBytes: number, extra: Partial<BlockRequest> = {}): BlockRequest => ({
  direction: 'write',
  addrBytes,
  lengthBytes,
  fua: false,
  waited: false,
  ...extra,
});

describe('plug merging', () => {
  test('contiguous writes merge back and front; nothing leaves before unplug', () => {
    const { block, out } = layer();
    block.submit(write(64 * KiB, 4 * KiB));
    block.submit(write(68 * KiB, 4 * KiB)); // back merge
    block.submit(write(60 * KiB, 4 * KiB)); // front merge
    expect(out).toEqual([]);
    block.unplug();
    expect(out).toEqual([write(60 * KiB, 12 * KiB)]);
    expect(block.counters).toEqual({ submitted: 3, merged: 2, dispatched: 1 });
  });

  test('a gap, another direction or a FUA write does not merge', () => {
    const { block, out } = layer();
    block.submit(write(0, 4 * KiB));
    block.submit(write(8 * KiB, 4 * KiB)); // gap
    block.submit({ ...write(12 * KiB, 4 * KiB), direction: 'read' }); // contiguous but a read
    block.submit(write(16 * KiB, 4 * KiB, { fua: true })); // contiguous but FUA
    block.unplug();
    expect(out.map((request) => [request.direction, request.addrBytes, request.lengthBytes])).toEqual([
      ['write', 0, 4096],
      ['write', 8192, 4096],
      ['read', 12288, 4096],
      ['write', 16384, 4096],
    ]);
    expect(block.counters.merged).toBe(0);
  });

  test('merging stops at max_sectors_kb; a waited piece makes the merged request waited', () => {
    const { block, out } = layer(16 * KiB);
    for (let index = 0; index < 5; index++) block.submit(write(index * 4 * KiB, 4 * KiB, { waited: index === 1 }));
    block.unplug();
    expect(out).toEqual([write(0, 16 * KiB, { waited: true }), write(16 * KiB, 4 * KiB)]);
    expect(block.counters).toEqual({ submitted: 5, merged: 3, dispatched: 2 });
  });

  test('a request larger than the maximum is split (bio_split)', () => {
    const { block, out } = layer();
    block.submit(write(1024 * KiB, 1300 * KiB));
    block.unplug();
    expect(out.map((request) => [request.addrBytes / KiB, request.lengthBytes / KiB])).toEqual([
      [1024, 512],
      [1536, 512],
      [2048, 276],
    ]);
    expect(block.counters).toEqual({ submitted: 1, merged: 0, dispatched: 3 });
  });

  test('a flush is a barrier: the plug goes first, nothing merges across it', () => {
    const { block, out } = layer();
    block.submit(write(0, 4 * KiB));
    block.submit({ direction: 'flush', addrBytes: 0, lengthBytes: 0, fua: false, waited: true });
    block.submit(write(4 * KiB, 4 * KiB));
    block.unplug();
    expect(out.map((request) => request.direction)).toEqual(['write', 'flush', 'write']);
    expect(block.counters).toEqual({ submitted: 3, merged: 0, dispatched: 3 });
  });

  test('a plug holding BLK_MAX_REQUEST_COUNT requests is flushed', () => {
    const { block, out } = layer();
    for (let index = 0; index < PLUG_REQUESTS_MAX + 1; index++) block.submit(write(index * 64 * KiB, 4 * KiB));
    expect(out).toHaveLength(PLUG_REQUESTS_MAX);
    block.unplug();
    expect(out).toHaveLength(PLUG_REQUESTS_MAX + 1);
  });
});
