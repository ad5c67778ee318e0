/**
 * The jbd2 commit as block requests: descriptor + metadata copies at the log
 * head, a flush, the FUA commit block; the log wraps inside the journal area.
 */
import { describe, expect, test } from '@jest/globals';
import type { IoRequest } from '../../src/device/iosink.js';
import { descriptorBlocksFor, JournalLog } from '../../src/device/model/journal.js';

function recorder(): { io: { submit: (request: IoRequest) => void }; requests: IoRequest[] } {
  const requests: IoRequest[] = [];
  return { io: { submit: (request) => requests.push(request) }, requests };
}

describe('JournalLog', () => {
  test('descriptor blocks: 254 tags per 4 KiB descriptor (csum v3 tags and a UUID)', () => {
    expect(descriptorBlocksFor(0, 4096)).toBe(1);
    expect(descriptorBlocksFor(254, 4096)).toBe(1);
    expect(descriptorBlocksFor(255, 4096)).toBe(2);
    expect(descriptorBlocksFor(62, 1024)).toBe(1);
    expect(descriptorBlocksFor(63, 1024)).toBe(2);
  });

  test('a commit: descriptor + 3 blocks, flush, FUA commit block, sequential in the log', () => {
    const { io, requests } = recorder();
    const log = new JournalLog(io, { startBlock: 1000, blockCount: 64, blockSize: 4096 });
    log.commit(3);
    log.commit(1);
    expect(requests).toEqual([
      { direction: 'write', cause: 'journal', addrBytes: 1000 * 4096, lengthBytes: 4 * 4096 },
      { direction: 'flush', cause: 'flush', addrBytes: 0, lengthBytes: 0 },
      { direction: 'write', cause: 'journal', addrBytes: 1004 * 4096, lengthBytes: 4096, fua: true },
      { direction: 'write', cause: 'journal', addrBytes: 1005 * 4096, lengthBytes: 2 * 4096 },
      { direction: 'flush', cause: 'flush', addrBytes: 0, lengthBytes: 0 },
      { direction: 'write', cause: 'journal', addrBytes: 1007 * 4096, lengthBytes: 4096, fua: true },
    ]);
    expect(log.blocksWritten).toBe(8);
    expect(log.commits).toBe(2);
  });

  test('the log wraps around the end of the area', () => {
    const { io, requests } = recorder();
    const log = new JournalLog(io, { startBlock: 100, blockCount: 8, blockSize: 4096 });
    log.commit(2); // blocks 0..2, commit at 3
    log.commit(3); // 4 blocks at 4..7, commit wraps to 0
    log.commit(2); // 3 blocks at 1..3, commit at 4
    const writes = requests.filter((request) => request.direction === 'write').map((request) => [request.addrBytes / 4096 - 100, request.lengthBytes / 4096]);
    expect(writes).toEqual([[0, 3], [3, 1], [4, 4], [0, 1], [1, 3], [4, 1]]);
  });
});
