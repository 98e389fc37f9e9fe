/**
 * The checks of `PooledIo`'s method arguments, each throwing the `INVALID_ARGUMENT` of
 * `@mem/types`'s validators.
 *
 * This module runs in Node.js only.
 * @module
 */
import type { FileHandle } from 'node:fs/promises';
import type { NetConnectOpts } from 'node:net';
import { assertBoolean, assertInteger, assertOptions, invalidArgument } from '@mem/types';
import type { SocketReadOptions } from './pooled-io-options.js';
import { isFileHandle } from './pooled-write.js';

/** Chunks a pooled readable buffers by default. */
const DEFAULT_HIGH_WATER_MARK = 4;

/** A path or a FileHandle. */
export function assertFile(file: unknown, name: string): string | FileHandle {
  if (typeof file === 'string' || isFileHandle(file)) return file;
  throw invalidArgument(name, file, 'a path or a FileHandle');
}

/** `null` or a byte position. */
export function assertPosition(position: unknown, name: string): number | null {
  return position === null ? null : assertInteger(position, name, { min: 0 });
}

/** `net.connect` options without `onread` (the helpers set it). */
export function assertConnectOptions(options: unknown, name: string): NetConnectOpts {
  if (options === undefined) throw invalidArgument(name, options, 'net.connect options');
  const given = assertOptions<NetConnectOpts & { onread?: unknown }>(options, name);
  if (given.onread !== undefined) throw invalidArgument(`${name}.onread`, given.onread, 'absent: the helper sets it');
  return given as NetConnectOpts;
}

/** The `copy` option of the socket helpers. */
export function readCopy(options: unknown): boolean {
  const copy = assertOptions<SocketReadOptions>(options, 'options', ['copy']).copy;
  return copy === undefined ? false : assertBoolean(copy, 'options.copy');
}

/** The `highWaterMark` option of the readable streams. */
export function readHighWaterMark(value: unknown): number {
  return value === undefined
    ? DEFAULT_HIGH_WATER_MARK
    : assertInteger(value, 'options.highWaterMark', { min: 1, max: 1 << 20 });
}
