/**
 * A fresh real filesystem on a loop device, as the conformance corpus made
 * them: a sparse 1 GiB image in a temp dir, mkfs with the fixed parameters,
 * `losetup -f --show`, `mount` with the kernel's default options.
 *
 * Cleanup is not optional: `release()` unmounts, detaches and deletes, and is
 * idempotent; every live mount is also released on SIGINT/SIGTERM (which then
 * interrupt the run, see `throwIfInterrupted`) and, as a last resort, on
 * process exit. Nothing here leaves a mount or a loop device behind.
 */
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync, closeSync, openSync, ftruncateSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { IMAGE_SIZE_BYTES, mkfsSpec, MKE2FS_CONF, type KernelFsName } from './fsparams.js';
import { firstLine, hasProgram, KernelRunError, KernelRunInterrupted, runHost, runHostChecked } from './host.js';

/** The mkfs and mount facts a record keeps. */
export interface MountFacts {
  fs: KernelFsName;
  mkfs: { argv: string[]; env: Record<string, string> };
  /** Options as /proc/self/mounts shows them. */
  mountOptions: string;
  loopRotational: string;
  loopLogicalBlockSize: string;
}

const live = new Set<LoopMount>();
let interruptedBy: string | null = null;
let handlersInstalled = false;

function onSignal(signal: NodeJS.Signals): void {
  interruptedBy = signal;
  // Release now: the run notices the flag between operations and unwinds.
  for (const mount of [...live]) mount.release();
}

function installHandlers(): void {
  if (handlersInstalled) return;
  handlersInstalled = true;
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  process.on('exit', releaseAll);
}

function removeHandlersWhenIdle(): void {
  if (!handlersInstalled || live.size > 0) return;
  handlersInstalled = false;
  process.off('SIGINT', onSignal);
  process.off('SIGTERM', onSignal);
  process.off('exit', releaseAll);
}

/** Releases every live mount (exit handler; also for tests). */
export function releaseAll(): void {
  for (const mount of [...live]) mount.release();
}

/** Throws KernelRunInterrupted when SIGINT/SIGTERM arrived since the last reset (mounts are already released). */
export function throwIfInterrupted(): void {
  if (interruptedBy !== null) {
    const signal = interruptedBy;
    interruptedBy = null;
    throw new KernelRunInterrupted(signal);
  }
}

/**
 * Why a loop mount of `fs` cannot be made here, or null when it can be
 * tried: root, losetup, mount, mkfs.<fs>, xfs_io, and kernel support.
 */
export function mountRefusal(fs: KernelFsName): string | null {
  const uid = typeof process.getuid === 'function' ? process.getuid() : -1;
  if (uid !== 0) return `not running as root (uid ${uid}); run it with sudo`;
  for (const program of ['losetup', 'mount', 'umount', 'xfs_io', mkfsSpec(fs).argv[0]!]) {
    if (!hasProgram(program)) return `${program} is not installed${program === 'xfs_io' || program === 'mkfs.xfs' ? ' (apt-get install xfsprogs)' : program === 'mkfs.btrfs' ? ' (apt-get install btrfs-progs)' : ''}`;
  }
  let filesystems = '';
  try {
    filesystems = readFileSync('/proc/filesystems', 'utf8');
  } catch {
    return 'cannot read /proc/filesystems';
  }
  if (!new RegExp(`\\s${fs}\\s*$`, 'm').test(filesystems) && runHost(['modprobe', fs]).status !== 0) {
    return `the kernel does not support ${fs} (not in /proc/filesystems, modprobe ${fs} failed)`;
  }
  return null;
}

/** One mounted filesystem on a loop device over a sparse image in its own temp dir. */
export class LoopMount {
  private released = false;
  private mounted = false;
  private loopDevice: string | null = null;

  private constructor(
    readonly fs: KernelFsName,
    readonly workDir: string,
    readonly imagePath: string,
    readonly mountPoint: string,
  ) {}

  /**
   * Makes image, filesystem, loop device and mount. On any failure what was
   * made is undone before the KernelRunError propagates.
   */
  static create(fs: KernelFsName): LoopMount {
    const refusal = mountRefusal(fs);
    if (refusal !== null) throw new KernelRunError(refusal);
    const workDir = mkdtempSync(join(tmpdir(), `iomapsim-${fs}-`));
    const mount = new LoopMount(fs, workDir, join(workDir, 'fs.img'), join(workDir, 'mnt'));
    live.add(mount);
    installHandlers();
    try {
      mount.makeFilesystem();
      mount.attachAndMount();
    } catch (error) {
      mount.release();
      throw error;
    }
    return mount;
  }

  /** The loop device (/dev/loopN) while attached. */
  get device(): string {
    if (this.loopDevice === null) throw new KernelRunError('the loop device is not attached');
    return this.loopDevice;
  }

  private makeFilesystem(): void {
    const fd = openSync(this.imagePath, 'wx', 0o600);
    try {
      ftruncateSync(fd, IMAGE_SIZE_BYTES);
    } finally {
      closeSync(fd);
    }
    const spec = mkfsSpec(this.fs);
    const env: NodeJS.ProcessEnv = { ...process.env };
    if (spec.env['MKE2FS_CONFIG'] !== undefined) {
      const confPath = join(this.workDir, 'mke2fs.conf');
      writeFileSync(confPath, MKE2FS_CONF);
      env['MKE2FS_CONFIG'] = confPath;
    }
    runHostChecked(spec.argv.map((word) => (word === 'IMAGE' ? this.imagePath : word)), { env });
  }

  private attachAndMount(): void {
    const attached = runHost(['losetup', '-f', '--show', this.imagePath]);
    if (attached.status !== 0) throw new KernelRunError(`losetup refused: ${firstLine(attached.stderr) || `exit ${attached.status}`}`);
    this.loopDevice = attached.stdout.trim();
    mkdirSync(this.mountPoint);
    this.mountNow();
  }

  private mountNow(): void {
    const result = runHost(['mount', '-t', this.fs, this.device, this.mountPoint]);
    if (result.status !== 0) throw new KernelRunError(`mount refused: ${firstLine(result.stderr) || `exit ${result.status}`}`);
    this.mounted = true;
  }

  /** Unmount + mount (the `@remount` directive; evicts every inode). */
  remount(): void {
    this.unmountNow();
    this.mountNow();
  }

  private unmountNow(): void {
    if (!this.mounted) return;
    let result = runHost(['umount', this.mountPoint]);
    // A helper process may still be exiting: retry briefly, then detach lazily rather than leak a mount.
    for (let attempt = 0; result.status !== 0 && attempt < 5; attempt++) {
      runHost(['sleep', '0.2']);
      result = runHost(['umount', this.mountPoint]);
    }
    if (result.status !== 0) result = runHost(['umount', '-l', this.mountPoint]);
    if (result.status !== 0) throw new KernelRunError(`umount ${this.mountPoint} failed: ${firstLine(result.stderr)}`);
    this.mounted = false;
  }

  /** What the record keeps of mkfs and mount. */
  facts(): MountFacts {
    const spec = mkfsSpec(this.fs);
    const name = this.device.replace('/dev/', '');
    const sysfs = (file: string): string => {
      try {
        return readFileSync(`/sys/block/${name}/queue/${file}`, 'utf8').trim();
      } catch {
        return 'unknown';
      }
    };
    const mounts = readFileSync('/proc/self/mounts', 'utf8').split('\n');
    const line = mounts.find((entry) => entry.split(' ')[1] === this.mountPoint);
    return {
      fs: this.fs,
      mkfs: { argv: [...spec.argv], env: { ...spec.env } },
      mountOptions: line?.split(' ')[3] ?? 'unknown',
      loopRotational: sysfs('rotational'),
      loopLogicalBlockSize: sysfs('logical_block_size'),
    };
  }

  /** Unmounts, detaches and deletes everything; idempotent; never throws (it reports on stderr). */
  release(): void {
    if (this.released) return;
    this.released = true;
    live.delete(this);
    try {
      this.unmountNow();
    } catch (error) {
      process.stderr.write(`iomapsim: ${(error as Error).message}\n`);
    }
    if (this.loopDevice !== null) {
      const detached = runHost(['losetup', '-d', this.loopDevice]);
      if (detached.status !== 0) process.stderr.write(`iomapsim: losetup -d ${this.loopDevice} failed: ${firstLine(detached.stderr)}\n`);
      this.loopDevice = null;
    }
    if (!this.mounted) rmSync(this.workDir, { recursive: true, force: true });
    removeHandlersWhenIdle();
  }
}
