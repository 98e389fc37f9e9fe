/**
 * What the HTTP server serves from: the engine that completes requests, the limits it checks them
 * against, the I/O buffers it reads and writes through, and the dashboard's and metrics' sources.
 * @module
 */
import type { CompletionEngine } from './completion-engine.js';
import type { RequestLimits } from './request-fields.js';
import type { IoBuffers } from './io-buffers.js';

/** What the server serves from. */
export interface ServerRuntime {
  /** Completes the requests. */
  readonly engine: CompletionEngine;
  /** When the served model's weights were made, in Unix seconds (`created` of its model object). */
  readonly modelCreated: number;
  /** Limits of `max_tokens` and the context. */
  readonly limits: RequestLimits;
  /** Largest request body accepted, in bytes. */
  readonly maxBodyBytes: number;
  /** Buffers for bodies and response chunks. */
  readonly io: IoBuffers;
  /** The JSON behind the dashboard (`GET /api/stats`). */
  dashboardStats(): unknown;
  /** The Prometheus exposition (`GET /metrics`). */
  metrics(): Promise<{ contentType: string; body: string }>;
  /** The workspace pool's memory map (`GET /api/workspace-map.svg`). */
  workspaceMapSvg(): string;
  /** Counts an answered HTTP request by route and status. */
  recordHttp(route: string, status: number): void;
  /** Where the server logs. */
  log(message: string): void;
}
