/**
 * The replay's file descriptor table: trace fds (per process) to open
 * handles, and trace paths to simulated paths under --root.
 */
import type { Handle } from '../vfs/vfs.js';

export class FdTable {
  private readonly handles = new Map<string, Handle>();

  private static key(pid: number | undefined, fd: number): string {
    return `${pid ?? 0}:${fd}`;
  }

  get(pid: number | undefined, fd: number): Handle | undefined {
    return this.handles.get(FdTable.key(pid, fd));
  }

  set(pid: number | undefined, fd: number, handle: Handle): Handle | undefined {
    const key = FdTable.key(pid, fd);
    const previous = this.handles.get(key);
    this.handles.set(key, handle);
    return previous;
  }

  delete(pid: number | undefined, fd: number): Handle | undefined {
    const key = FdTable.key(pid, fd);
    const handle = this.handles.get(key);
    this.handles.delete(key);
    return handle;
  }

  /** Open handles in the order they were opened. */
  open(): Handle[] {
    return [...this.handles.values()];
  }

  clear(): void {
    this.handles.clear();
  }
}

/**
 * Maps a trace path to the simulated fs: strips `root` (a mount point),
 * leading "./" and "/"; returns undefined for paths outside the root.
 */
export function mapTracePath(path: string, root: string | undefined): string | undefined {
  let rel = path;
  if (root !== undefined && root !== '') {
    const base = root.endsWith('/') ? root.slice(0, -1) : root;
    if (rel === base) return '';
    if (!rel.startsWith(`${base}/`)) return undefined;
    rel = rel.slice(base.length + 1);
  }
  const parts: string[] = [];
  for (const part of rel.split('/')) {
    if (part === '' || part === '.') continue;
    if (part === '..') {
      if (parts.length === 0) return undefined;
      parts.pop();
      continue;
    }
    parts.push(part);
  }
  return parts.join('/');
}
