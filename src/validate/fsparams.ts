/**
 * The real filesystems `validate` and `record` run on, with the fixed mkfs
 * parameters of the conformance corpus (../shared/conformance/README.md,
 * "mkfs parameters"), so a layout recorded here is comparable with the
 * corpus truth and with the simulator's geometry (1 GiB, 4096-byte blocks).
 */

/** The filesystems this machine may be asked to mount. */
export const KERNEL_FS_NAMES = ['ext4', 'xfs', 'btrfs'] as const;
export type KernelFsName = (typeof KERNEL_FS_NAMES)[number];

/** Size of the sparse image every run makes (the corpus geometry). */
export const IMAGE_SIZE_BYTES = 1 << 30;
/** Filesystem block size of every mkfs below. */
export const KERNEL_BLOCK_SIZE = 4096;

/**
 * The pinned ext4 feature set (= Debian 12 / e2fsprogs 1.47.0 defaults
 * without size classes), byte-identical to ../shared/conformance/mke2fs.conf
 * (a test checks it), embedded so `validate` works without ../shared.
 */
export const MKE2FS_CONF = `# Pinned mke2fs configuration used for the recordings (via MKE2FS_CONFIG) so the
# ext4 feature set does not depend on the host's /etc/mke2fs.conf.
# Contents = Debian 12 (e2fsprogs 1.47.0) defaults for ext4, with every
# size class ("floppy", "small", "big", ...) removed so that the same
# blocksize/inode settings apply whatever --size is chosen.
[defaults]
	base_features = sparse_super,large_file,filetype,resize_inode,dir_index,ext_attr
	default_mntopts = acl,user_xattr
	enable_periodic_fsck = 0
	blocksize = 4096
	inode_size = 256
	inode_ratio = 16384

[fs_types]
	ext4 = {
		features = has_journal,extent,huge_file,flex_bg,metadata_csum,64bit,dir_nlink,extra_isize
	}
`;

/** How to make one filesystem: the program and its arguments, IMAGE standing for the image path. */
export interface MkfsSpec {
  /** argv[0] is the program; the literal word IMAGE is replaced by the image path. */
  argv: readonly string[];
  /** Extra environment; MKE2FS_CONFIG names a file written next to the image. */
  env: Readonly<Record<string, string>>;
}

const MKFS_SPECS: Readonly<Record<KernelFsName, MkfsSpec>> = {
  ext4: {
    argv: [
      'mkfs.ext4', '-F', '-q', '-t', 'ext4', '-b', '4096', '-I', '256', '-i', '16384', '-J', 'size=32',
      '-E', 'lazy_itable_init=0,lazy_journal_init=0,hash_seed=6f726163-6c65-4000-8000-000000000001',
      '-U', '6f726163-6c65-4000-8000-000000000e4e', '-L', 'oracle', 'IMAGE',
    ],
    env: { MKE2FS_CONFIG: 'mke2fs.conf' },
  },
  xfs: {
    argv: [
      'mkfs.xfs', '-f', '-q', '-b', 'size=4096', '-s', 'size=512',
      '-m', 'crc=1,reflink=1,finobt=1,rmapbt=0,bigtime=1,inobtcount=1', '-i', 'size=512,sparse=1',
      '-n', 'size=4096,ftype=1', '-d', 'agcount=4', '-l', 'size=64m,version=2', '-L', 'oracle', 'IMAGE',
    ],
    env: {},
  },
  btrfs: {
    argv: [
      'mkfs.btrfs', '-f', '-q', '-s', '4096', '-n', '16384', '-d', 'single', '-m', 'single',
      '-O', 'no-holes,skinny-metadata,extref', '-R', 'free-space-tree', '-L', 'oracle', 'IMAGE',
    ],
    env: {},
  },
};

/** The fixed mkfs command of `fs`. */
export function mkfsSpec(fs: KernelFsName): MkfsSpec {
  return MKFS_SPECS[fs];
}

/** Whether `name` is one of the filesystems validate/record know how to make. */
export function isKernelFsName(name: string): name is KernelFsName {
  return (KERNEL_FS_NAMES as readonly string[]).includes(name);
}
