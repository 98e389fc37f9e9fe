/**
 * The messages between a {@link WorkspaceCoordinator}'s worker and its clients, and the small
 * adapters that let the same code talk over Node's `worker_threads` and the web's workers.
 *
 * One control message travels over the worker itself (`init`, answered `ready` or `failed`);
 * every client talks to the worker over its own `MessagePort`: requests `{ id, op, ... }`, answers
 * `{ id, ok, value | error }`, events `{ event, ... }` the worker sends unasked, and
 * `{ op: 'connect', port }` (no id, no answer), which hands the worker the port of the next
 * client (what `descriptor()` does).
 *
 * Neither side trusts what arrives: a value that is not a well-formed message is dropped, and a
 * request with a usable `id` but bad fields is answered with a `MemError`. Nothing a port
 * receives can stop the worker or a client.
 *
 * This module is browser compatible.
 * @module
 */
import { MemError, MemErrorCode, type BackingMemoryDescriptor } from '@mem/types';
import type { DefragmentationReport } from '../defragmentation-report.js';
import type { WorkspaceConfigOptions } from '../workspace-config.js';
import type { WorkspaceLogEntry } from '../workspace-pool-options.js';

/** What a segment looks like to a client. @internal */
export interface SegmentInfo {
  readonly pool: string;
  readonly index: number;
  readonly base: number;
  readonly byteLength: number;
  readonly memory: BackingMemoryDescriptor;
}

/** Main thread to worker. @internal */
export interface ControlMessage {
  readonly kind: 'init';
  readonly pools: Readonly<Record<string, WorkspaceConfigOptions>>;
  readonly maxWorkspaces: number;
  readonly port: MessagePort;
}

/** A client hands the worker the port of a new client (sent with the port transferred). @internal */
export interface Connect {
  readonly op: 'connect';
  readonly port: MessagePort;
}

/** Worker to main thread. @internal */
export type ControlReply =
  | { readonly kind: 'ready'; readonly leaseTable: SharedArrayBuffer }
  | { readonly kind: 'failed'; readonly error: SerializedError };

/** A client's request. @internal */
export type Request =
  | {
      readonly id: number;
      readonly op: 'acquire';
      readonly pool: string;
      readonly size: number;
      readonly label?: string;
    }
  | { readonly id: number; readonly op: 'release'; readonly slot: number; readonly serial: number }
  | { readonly id: number; readonly op: 'defragment'; readonly pool: string; readonly throwIfBlocked: boolean }
  | { readonly id: number; readonly op: 'stats'; readonly pool: string }
  | { readonly id: number; readonly op: 'snapshot'; readonly pool: string }
  | { readonly id: number; readonly op: 'disconnect' };

/** The answer to an `acquire`. @internal */
export interface AcquireAnswer {
  readonly slot: number;
  readonly serial: number;
  readonly workspaceId: number;
  readonly size: number;
  readonly capacity: number;
  /** Segments of the pool this client has not been sent yet (every one up to the lease's). */
  readonly segments: readonly SegmentInfo[];
}

/** An answer, or an event. @internal */
export type Reply =
  | { readonly id: number; readonly ok: true; readonly value: unknown }
  | { readonly id: number; readonly ok: false; readonly error: SerializedError }
  | { readonly event: 'segments-released'; readonly pool: string; readonly indices: readonly number[] }
  | { readonly event: 'log'; readonly entry: WorkspaceLogEntry };

/** A `MemError` (or another error) in a structured-cloneable form. @internal */
export interface SerializedError {
  readonly code: MemErrorCode | undefined;
  readonly message: string;
  readonly details: Readonly<Record<string, unknown>>;
}

/** Turns an error into its cloneable form. @internal */
export function serializeError(error: unknown): SerializedError {
  if (MemError.is(error)) {
    let details: Readonly<Record<string, unknown>> = {};
    try {
      details = structuredClone(error.details);
    } catch {
      // Details that cannot cross threads are dropped; the message says what went wrong.
    }
    return { code: error.code, message: error.message, details };
  }
  return { code: undefined, message: error instanceof Error ? error.message : String(error), details: {} };
}

/**
 * Turns a serialized error back into a `MemError` (or an `Error` for anything else, a malformed
 * one included). @internal
 */
export function deserializeError(error: unknown): Error {
  if (!isRecord(error) || typeof error.message !== 'string') {
    return new Error('the coordinator answered with a malformed error');
  }
  const code = error.code;
  if (typeof code !== 'string' || !Object.hasOwn(MemErrorCode, code)) return new Error(error.message);
  return new MemError(code as MemErrorCode, error.message, { details: isRecord(error.details) ? error.details : {} });
}

/** Whether `value` is a non-null object (what a structured clone of a message is). @internal */
export function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null;
}

/** The `id` of a request or answer if it is a safe integer, else undefined. @internal */
export function messageId(message: Record<string, unknown>): number | undefined {
  const id = message.id;
  return typeof id === 'number' && Number.isSafeInteger(id) ? id : undefined;
}

/** Whether `value` can serve as a client's port (send, receive and close). @internal */
export function isPortLike(value: unknown): value is MessagePort {
  if (!isRecord(value)) return false;
  const port = value as Partial<MessagePort> & { on?: unknown };
  return (
    typeof port.postMessage === 'function' &&
    typeof port.close === 'function' &&
    (typeof port.on === 'function' || typeof port.addEventListener === 'function')
  );
}

/** The report type re-exported for the protocol's users. @internal */
export type { DefragmentationReport };

/**
 * Something that sends and receives messages: a `MessagePort` of either runtime, Node's
 * `parentPort`, a web worker's global scope, or a `Worker`.
 */
export interface MessageEndpoint {
  /** Sends `message`, moving the objects in `transfer`. */
  postMessage(message: unknown, transfer?: readonly unknown[]): void;
}

/** Node's event-emitter style (`worker_threads`). */
interface EmitterEndpoint {
  on(event: 'message', listener: (data: unknown) => void): unknown;
  on(event: 'error' | 'exit' | 'close', listener: (value: unknown) => void): unknown;
}

/** The web's event-target style. */
interface TargetEndpoint {
  addEventListener(
    type: string,
    listener: (event: { data?: unknown; error?: unknown; message?: string }) => void,
  ): void;
  start?(): void;
}

/** Calls `handler` with the data of every message `endpoint` receives. @internal */
export function onMessage(endpoint: MessageEndpoint, handler: (data: unknown) => void): void {
  const emitter = endpoint as Partial<EmitterEndpoint>;
  if (typeof emitter.on === 'function') {
    emitter.on('message', handler);
    return;
  }
  const target = endpoint as Partial<TargetEndpoint>;
  if (typeof target.addEventListener === 'function') {
    target.addEventListener('message', (event) => handler(event.data));
    target.start?.();
    return;
  }
  throw new MemError('INVALID_ARGUMENT', 'endpoint must have on("message") or addEventListener("message")');
}

/** Calls `handler` once if `endpoint` fails or goes away (a worker's error or exit, a port's close). @internal */
export function onFailure(endpoint: MessageEndpoint, handler: (reason: string) => void): void {
  const emitter = endpoint as Partial<EmitterEndpoint>;
  let called = false;
  const once = (reason: string): void => {
    if (called) return;
    called = true;
    handler(reason);
  };
  if (typeof emitter.on === 'function') {
    emitter.on('error', (error) =>
      once(`the coordinator worker failed: ${error instanceof Error ? error.message : String(error)}`),
    );
    emitter.on('exit', (code) => once(`the coordinator worker exited with code ${String(code)}`));
    emitter.on('close', () => once('the coordinator closed the connection'));
    return;
  }
  const target = endpoint as Partial<TargetEndpoint>;
  if (typeof target.addEventListener === 'function') {
    target.addEventListener('error', (event) => once(`the coordinator worker failed: ${event.message ?? 'error'}`));
    target.addEventListener('close', () => once('the coordinator closed the connection'));
  }
}
