/**
 * Per-process state of the traced programs as the strace reader rebuilds
 * it: fd tables (fd -> open file description, shared by dup and by threads),
 * and shared writable file mappings (for msync).
 *
 * Sharing heuristic (documented in docs/trace-formats.md): with `-e trace=`
 * filters the clone/fork lines are often absent, so a pid that uses an fd it
 * never got is matched with the most recently used other fd table holding
 * that fd (and, with `-y`, the same path). A pid whose own table is still
 * untouched then adopts that table for good (a thread, or a child that
 * inherited it); otherwise the entry is borrowed for that one call.
 */
import { assert } from '../../util/assert.js';

/** What an fd refers to; only 'file' becomes TraceOps, the rest become `ignored` ops. */
export type FdKind = 'file' | 'dir' | 'pipe' | 'socket' | 'device' | 'procfs' | 'sysfs' | 'anon' | 'path-only' | 'tmpfile';

/** One open file description (struct file): shared by dup'ed fds, threads and mappings. */
export interface OpenFile {
  kind: FdKind;
  /** The handle id of the emitted `open` (kind 'file'); 0 for other kinds. */
  handle: number;
  /** Absolute path (from `-y` or resolved), or the decoration text (`pipe:[12]`). */
  path: string;
  /** fds in all tables plus mappings that refer to it; the handle closes at 0. */
  refs: number;
}

interface FdEntry {
  file: OpenFile;
  cloexec: boolean;
}

/** One fd table (struct files_struct), possibly shared by several pids. */
export class FdTable {
  readonly fds = new Map<number, FdEntry>();
  readonly members = new Set<number>();
  /** True once a call created an fd in this table (it is no longer adoptable). */
  used = false;
  lastUseSeq = 0;
}

/** Where an fd was found: its table (maybe another pid's) and entry. */
export interface FdSlot {
  table: FdTable;
  fd: number;
  file: OpenFile;
}

/** The reason an `ignored` op gives for a call on an fd of this kind. */
export function ignoreReasonOf(kind: FdKind): string {
  const reasons: Record<FdKind, string> = {
    file: 'file',
    dir: 'directory',
    pipe: 'pipe',
    socket: 'socket',
    device: 'device',
    procfs: 'procfs',
    sysfs: 'sysfs',
    anon: 'anon-inode',
    'path-only': 'o-path',
    tmpfile: 'unsupported',
  };
  return reasons[kind];
}

/** The kind of an fd from its `-y` decoration or path. */
export function kindOfPath(path: string): FdKind {
  if (path.startsWith('pipe:')) return 'pipe';
  if (path.startsWith('socket:') || /^[A-Z][A-Z0-9]*:\[/.test(path)) return 'socket';
  if (path.startsWith('anon_inode:') || path.startsWith('/memfd:')) return 'anon';
  if (path === '/dev' || path.startsWith('/dev/')) return 'device';
  if (path === '/proc' || path.startsWith('/proc/')) return 'procfs';
  if (path === '/sys' || path.startsWith('/sys/')) return 'sysfs';
  return 'file';
}

/** `-y` shows unlinked files as `/path (deleted)`: the path without that mark. */
export function stripDeleted(path: string): string {
  return path.endsWith(' (deleted)') ? path.slice(0, -' (deleted)'.length) : path;
}

/** The fd tables of all traced pids. */
export class FdTables {
  private readonly byPid = new Map<number, FdTable>();
  private useSeq = 0;

  /** The table of `pid`, created (empty, adoptable) on first use. */
  tableOf(pid: number): FdTable {
    let table = this.byPid.get(pid);
    if (table === undefined) {
      table = new FdTable();
      table.members.add(pid);
      this.byPid.set(pid, table);
    }
    table.lastUseSeq = ++this.useSeq;
    return table;
  }

  hasTable(pid: number): boolean {
    return this.byPid.has(pid);
  }

  /**
   * The open file behind `fd` in `pid`, falling back to the most recently
   * used other table that has it (matching `decoration` when given). O(tables).
   */
  find(pid: number, fd: number, decoration: string | undefined): FdSlot | undefined {
    const own = this.tableOf(pid);
    const entry = own.fds.get(fd);
    if (entry !== undefined) return { table: own, fd, file: entry.file };
    let best: FdTable | undefined;
    for (const table of new Set(this.byPid.values())) {
      const candidate = table.fds.get(fd);
      if (table === own || candidate === undefined) continue;
      if (decoration !== undefined && !sameTarget(candidate.file, decoration)) continue;
      if (best === undefined || table.lastUseSeq > best.lastUseSeq) best = table;
    }
    if (best === undefined) return undefined;
    if (!own.used && own.fds.size === 0 && own.members.size === 1) this.adopt(pid, best);
    best.lastUseSeq = ++this.useSeq;
    return { table: best, fd, file: best.fds.get(fd)!.file };
  }

  /** `pid` shares `table` from now on (thread / CLONE_FILES). */
  adopt(pid: number, table: FdTable): void {
    const previous = this.byPid.get(pid);
    if (previous === table) return;
    previous?.members.delete(pid);
    table.members.add(pid);
    this.byPid.set(pid, table);
  }

  /** `child` gets a copy of `parent`'s table (fork without CLONE_FILES): every file gains a reference. */
  copy(parent: number, child: number): void {
    const source = this.tableOf(parent);
    const table = new FdTable();
    table.members.add(child);
    table.used = true;
    for (const [fd, entry] of source.fds) {
      entry.file.refs++;
      table.fds.set(fd, { ...entry });
    }
    this.byPid.get(child)?.members.delete(child);
    this.byPid.set(child, table);
  }

  /**
   * Installs `file` at `fd` of `table` (open, dup2 target, inherited fd) and
   * takes a reference. Returns the file previously at `fd` when that lost its
   * last reference (dup2 closes the old target).
   */
  install(table: FdTable, fd: number, file: OpenFile, cloexec: boolean): OpenFile | undefined {
    assert(fd >= 0, 'fd table: negative fd', { fd });
    const previous = table.fds.get(fd);
    file.refs++;
    table.fds.set(fd, { file, cloexec });
    table.used = true;
    return previous === undefined ? undefined : release(previous.file);
  }

  /** Removes `fd` from its table; returns the file when that was its last reference. */
  close(slot: FdSlot): OpenFile | undefined {
    const entry = slot.table.fds.get(slot.fd);
    if (entry === undefined) return undefined;
    slot.table.fds.delete(slot.fd);
    return release(entry.file);
  }

  setCloexec(slot: FdSlot, cloexec: boolean): void {
    const entry = slot.table.fds.get(slot.fd);
    if (entry !== undefined) entry.cloexec = cloexec;
  }

  /** execve succeeded: O_CLOEXEC fds close. Returns the files that lost their last reference. */
  exec(pid: number): OpenFile[] {
    const table = this.tableOf(pid);
    const released: OpenFile[] = [];
    for (const [fd, entry] of [...table.fds]) {
      if (!entry.cloexec) continue;
      table.fds.delete(fd);
      const file = release(entry.file);
      if (file !== undefined) released.push(file);
    }
    return released;
  }

  /** `pid` is gone: when it was the table's last member, every fd closes. */
  exit(pid: number): OpenFile[] {
    const table = this.byPid.get(pid);
    if (table === undefined) return [];
    this.byPid.delete(pid);
    table.members.delete(pid);
    if (table.members.size > 0) return [];
    const released: OpenFile[] = [];
    for (const entry of table.fds.values()) {
      const file = release(entry.file);
      if (file !== undefined) released.push(file);
    }
    table.fds.clear();
    return released;
  }
}

/** Drops one reference; returns the file when it was the last. */
export function release(file: OpenFile): OpenFile | undefined {
  assert(file.refs > 0, 'open file released more often than referenced', { path: file.path });
  file.refs--;
  return file.refs === 0 ? file : undefined;
}

function sameTarget(file: OpenFile, decoration: string): boolean {
  const path = stripDeleted(decoration);
  return file.path === path || (file.kind !== 'file' && file.kind === kindOfPath(path));
}

/** A MAP_SHARED, PROT_WRITE mapping of a regular file. */
export interface FileMapping {
  startAddress: number;
  lengthBytes: number;
  fileOffset: number;
  file: OpenFile;
}

/** The part of a mapping that a range of addresses covers, as a file range. */
export interface MappedRange {
  file: OpenFile;
  offset: number;
  length: number;
}

/** Shared writable file mappings per pid (threads fall back to any pid's mapping at that address). */
export class FileMappings {
  private readonly byPid = new Map<number, FileMapping[]>();

  /** Records a mapping; it holds a reference on the file until unmapped. */
  add(pid: number, mapping: FileMapping): void {
    mapping.file.refs++;
    let list = this.byPid.get(pid);
    if (list === undefined) {
      list = [];
      this.byPid.set(pid, list);
    }
    list.push(mapping);
  }

  /** The file ranges behind [address, address + length): own mappings first, else any pid's. */
  find(pid: number, address: number, length: number): MappedRange[] {
    const own = overlapsOf(this.byPid.get(pid) ?? [], address, length);
    if (own.length > 0) return own;
    for (const list of this.byPid.values()) {
      const ranges = overlapsOf(list, address, length);
      if (ranges.length > 0) return ranges;
    }
    return [];
  }

  /** munmap: drops or trims the mappings in the range; returns files that lost their last reference. */
  remove(pid: number, address: number, length: number): OpenFile[] {
    const list = this.byPid.get(pid);
    if (list === undefined) return [];
    const end = address + length;
    const kept: FileMapping[] = [];
    const released: OpenFile[] = [];
    for (const mapping of list) {
      const mapEnd = mapping.startAddress + mapping.lengthBytes;
      if (mapEnd <= address || mapping.startAddress >= end) {
        kept.push(mapping);
        continue;
      }
      const pieces: FileMapping[] = [];
      if (mapping.startAddress < address) pieces.push({ ...mapping, lengthBytes: address - mapping.startAddress });
      if (mapEnd > end) {
        pieces.push({ ...mapping, startAddress: end, lengthBytes: mapEnd - end, fileOffset: mapping.fileOffset + (end - mapping.startAddress) });
      }
      mapping.file.refs += pieces.length;
      kept.push(...pieces);
      const file = release(mapping.file);
      if (file !== undefined) released.push(file);
    }
    this.byPid.set(pid, kept);
    return released;
  }

  /** The pid's address space is gone (exit, execve): every mapping drops its reference. */
  exit(pid: number): OpenFile[] {
    const list = this.byPid.get(pid) ?? [];
    this.byPid.delete(pid);
    const released: OpenFile[] = [];
    for (const mapping of list) {
      const file = release(mapping.file);
      if (file !== undefined) released.push(file);
    }
    return released;
  }
}

function overlapsOf(list: readonly FileMapping[], address: number, length: number): MappedRange[] {
  const ranges: MappedRange[] = [];
  const end = address + length;
  for (const mapping of list) {
    const from = Math.max(address, mapping.startAddress);
    const to = Math.min(end, mapping.startAddress + mapping.lengthBytes);
    if (to <= from) continue;
    ranges.push({ file: mapping.file, offset: mapping.fileOffset + (from - mapping.startAddress), length: to - from });
  }
  return ranges;
}
