/** Linux errno values the simulator can return from an operation (positive numbers, kernel names). */
export const Errno = {
  EPERM: 1,
  ENOENT: 2,
  EIO: 5,
  EBADF: 9,
  EAGAIN: 11,
  ENOMEM: 12,
  EFAULT: 14,
  EEXIST: 17,
  ENOTDIR: 20,
  EISDIR: 21,
  EINVAL: 22,
  EFBIG: 27,
  ENOSPC: 28,
  ESPIPE: 29,
  ENXIO: 6,
  EOPNOTSUPP: 95,
  ENOTBLK: 15,
  EDQUOT: 122,
} as const;

export type ErrnoName = keyof typeof Errno;

const errnoNames = new Map<number, ErrnoName>(
  (Object.entries(Errno) as [ErrnoName, number][]).map(([name, value]) => [value, name]),
);

/** The kernel name of an errno value ("EOPNOTSUPP"), or "E<n>" when unknown. */
export function errnoName(errno: number): string {
  return errnoNames.get(errno) ?? `E${errno}`;
}

/** strerror(3) text for the errnos we use, as xfs_io prints them. */
export function errnoMessage(errno: number): string {
  switch (errno) {
    case Errno.EOPNOTSUPP:
      return 'Operation not supported';
    case Errno.ENOSPC:
      return 'No space left on device';
    case Errno.EINVAL:
      return 'Invalid argument';
    case Errno.ENOENT:
      return 'No such file or directory';
    case Errno.EIO:
      return 'Input/output error';
    case Errno.EBADF:
      return 'Bad file descriptor';
    case Errno.EFBIG:
      return 'File too large';
    case Errno.ENXIO:
      return 'No such device or address';
    default:
      return errnoName(errno);
  }
}

/** An operation failed with an errno: a normal, reported outcome of a replayed op, not a crash. */
export class ErrnoError extends Error {
  constructor(
    readonly errno: number,
    what: string,
  ) {
    super(`${what}: ${errnoMessage(errno)}`);
    this.name = 'ErrnoError';
  }
}
