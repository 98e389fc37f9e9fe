import { request as httpRequest } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { CompletionEngine, CompletionInput, CompletionListener } from './completion-engine.js';
import { HttpError } from './http-error.js';
import { HTTP_ROUTE_STATUSES, startServer, type RunningServer } from './http-server.js';
import type { IoBuffers, IoLease } from './io-buffers.js';
import type { ServerRuntime } from './server-runtime.js';

/** A test engine: emits the prompt's bytes back, one token per timer tick. */
class EchoEngine implements CompletionEngine {
  cancelled = 0;
  active = 0;
  queueFull = false;
  submit(input: CompletionInput, listener: CompletionListener) {
    if (this.queueFull) throw new HttpError(503, 'queue full', { headers: { 'retry-after': '1' } });
    this.active++;
    let index = 0;
    let stopped = false;
    const tick = () => {
      if (stopped) return;
      if (index === input.maxTokens) {
        stopped = true;
        this.active--;
        listener.onFinish('length', { completionTokens: index, cachedTokens: 0 });
        return;
      }
      listener.onToken(input.promptTokens[index % input.promptTokens.length]!, index);
      index++;
      setTimeout(tick, 2);
    };
    setTimeout(tick, 2);
    return {
      id: 'cmpl-test',
      cancel: () => {
        if (stopped) return;
        stopped = true;
        this.active--;
        this.cancelled++;
      },
    };
  }
}

class CountingBuffers implements IoBuffers {
  out = 0;
  leased = 0;
  lease(size: number): IoLease {
    this.out++;
    this.leased++;
    const bytes = new Uint8Array(size);
    let released = false;
    return {
      bytes,
      nodeBuffer: (length) => Buffer.from(bytes.buffer, bytes.byteOffset, length),
      release: () => {
        if (released) throw new Error('released twice');
        released = true;
        this.out--;
      },
    };
  }
}

const engine = new EchoEngine();
const io = new CountingBuffers();
const statuses: string[] = [];
const runtime: ServerRuntime = {
  engine,
  modelCreated: 1_700_000_000,
  limits: { maxCompletionTokens: 64, maxContext: 512 },
  maxBodyBytes: 1024,
  io,
  dashboardStats: () => ({ ok: 1 }),
  metrics: async () => ({ contentType: 'text/plain; version=0.0.4', body: 'demo_up 1\n' }),
  workspaceMapSvg: () => '<svg xmlns="http://www.w3.org/2000/svg"></svg>',
  recordHttp: (route, status) => statuses.push(`${route} ${status}`),
  log: () => {},
};
let server: RunningServer;

beforeAll(async () => {
  server = await startServer(runtime);
});
afterAll(async () => {
  await server.close();
});

async function post(body: string, headers: Record<string, string> = { 'content-type': 'application/json' }) {
  const response = await fetch(`${server.url}/v1/completions`, { method: 'POST', headers, body });
  const text = await response.text();
  return {
    status: response.status,
    text,
    // eslint-disable-next-line @typescript-eslint/no-explicit-any -- response bodies are checked field by field
    json: () => JSON.parse(text) as Record<string, any>,
    headers: response.headers,
  };
}

async function until(condition: () => boolean, what: string): Promise<void> {
  for (let i = 0; i < 200 && !condition(); i++) await new Promise((r) => setTimeout(r, 10));
  if (!condition()) throw new Error(`timed out waiting for ${what}`);
}

describe('the completions endpoint', () => {
  it('answers a completion as OpenAI does, with usage', async () => {
    const response = await post(JSON.stringify({ prompt: 'abc', max_tokens: 5 }));
    expect(response.status).toBe(200);
    const body = response.json();
    expect(body).toMatchObject({ object: 'text_completion', model: 'mem-demo-byte-lm' });
    expect(body.choices[0]).toMatchObject({ text: 'abcab', finish_reason: 'length', index: 0 });
    expect(body.usage).toEqual({
      prompt_tokens: 3,
      completion_tokens: 5,
      total_tokens: 8,
      prompt_tokens_details: { cached_tokens: 0 },
    });
  });

  it('streams server-sent events ending with [DONE]', async () => {
    const response = await post(JSON.stringify({ prompt: 'xy', max_tokens: 4, stream: true }));
    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toMatch(/^text\/event-stream/);
    const events = response.text.split('\n\n').filter(Boolean);
    expect(events.at(-1)).toBe('data: [DONE]');
    const chunks = events.slice(0, -1).map((e) => JSON.parse(e.slice('data: '.length)));
    expect(chunks.map((c) => c.choices[0].text).join('')).toBe('xyxy');
    expect(chunks.at(-1).choices[0].finish_reason).toBe('length');
    expect(chunks[0].choices[0].finish_reason).toBeNull();
  });

  it.each([
    ['{"prompt": ', 400, /not valid JSON/],
    ['[]', 400, /JSON object/],
    ['{"max_tokens": 3}', 400, /missing required field "prompt"/],
    ['{"prompt": "a", "max_tokens": -5}', 400, /between 1 and 64/],
    ['{"prompt": "a", "max_tokens": 100000000}', 400, /between 1 and 64/],
    ['{"prompt": "a", "max_tokens": "7"}', 400, /must be an integer/],
    ['{"prompt": "a", "stream": 1}', 400, /must be a boolean/],
    ['{"prompt": "a", "model": "gpt-4"}', 404, /does not exist/],
  ])('answers the body %s with %i and a JSON error', async (body, status, message) => {
    const response = await post(body);
    expect(response.status).toBe(status);
    expect(response.json().error.message).toMatch(message);
  });

  it('answers a body that is not JSON-typed with 415', async () => {
    const response = await post('{"prompt":"a"}', { 'content-type': 'text/plain' });
    expect(response.status).toBe(415);
  });

  it('answers an oversized body with 413 and keeps serving', async () => {
    const response = await post(JSON.stringify({ prompt: 'x'.repeat(5000) }));
    expect(response.status).toBe(413);
    expect(response.json().error.message).toMatch(/larger than the limit of 1024 bytes/);
    expect((await post('{"prompt":"ok","max_tokens":1}')).status).toBe(200);
  });

  it('answers a declared oversized body with 413 before reading a byte of it', async () => {
    const answer = await new Promise<{ status: number; body: string }>((resolve, reject) => {
      const url = new URL(`${server.url}/v1/completions`);
      const req = httpRequest({
        host: url.hostname,
        port: url.port,
        path: url.pathname,
        method: 'POST',
        headers: { 'content-type': 'application/json', 'content-length': '10000000' },
      });
      req.on('response', (res) => {
        let body = '';
        res.on('data', (chunk: Buffer) => (body += chunk.toString()));
        res.on('end', () => {
          resolve({ status: res.statusCode ?? 0, body });
          req.destroy();
        });
      });
      req.on('error', reject);
      req.flushHeaders(); // the headers only: the body never comes
    });
    expect(answer.status).toBe(413);
    expect(JSON.parse(answer.body)).toEqual({
      error: {
        message: 'the body (10000000 bytes) is larger than the limit of 1024 bytes',
        type: 'invalid_request_error',
        param: null,
        code: 'request_too_large',
      },
    });
  });

  it('answers a chunked oversized body with 413', async () => {
    const status = await new Promise<number>((resolve, reject) => {
      const url = new URL(`${server.url}/v1/completions`);
      const req = httpRequest({
        host: url.hostname,
        port: url.port,
        path: url.pathname,
        method: 'POST',
        headers: { 'content-type': 'application/json' },
      });
      req.on('response', (res) => {
        res.resume();
        resolve(res.statusCode ?? 0);
      });
      req.on('error', reject);
      for (let i = 0; i < 8; i++) req.write('x'.repeat(500));
      req.end();
    });
    expect(status).toBe(413);
  });

  it('answers a full queue with 503 and Retry-After', async () => {
    engine.queueFull = true;
    try {
      const response = await post('{"prompt":"a"}');
      expect(response.status).toBe(503);
      expect(response.headers.get('retry-after')).toBe('1');
    } finally {
      engine.queueFull = false;
    }
  });

  it('cancels the request of a client that disconnects mid-stream', async () => {
    const before = engine.cancelled;
    const controller = new AbortController();
    const response = await fetch(`${server.url}/v1/completions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ prompt: 'abc', max_tokens: 60, stream: true }),
      signal: controller.signal,
    });
    const reader = response.body!.getReader();
    await reader.read();
    controller.abort();
    await until(() => engine.cancelled > before, 'the cancellation');
    expect(engine.active).toBe(0);
  });

  it('cancels a non-streaming request whose client goes away', async () => {
    const before = engine.cancelled;
    const controller = new AbortController();
    const pending = fetch(`${server.url}/v1/completions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ prompt: 'abc', max_tokens: 60 }),
      signal: controller.signal,
    }).catch(() => undefined);
    await until(() => engine.active > 0, 'the request to start');
    controller.abort();
    await pending;
    await until(() => engine.cancelled > before, 'the cancellation');
  });

  it('returns every leased buffer once the sockets have written them', async () => {
    await until(() => io.out === 0, 'every lease to return');
    expect(io.leased).toBeGreaterThan(10);
  });
});

describe('the other routes', () => {
  it('serves the dashboard, metrics, stats, the memory map and the model list', async () => {
    const page = await fetch(`${server.url}/`);
    expect(page.headers.get('content-type')).toMatch(/text\/html/);
    expect(await page.text()).toContain('<script src="/assets/uplot.iife.min.js">');
    const script = await fetch(`${server.url}/assets/uplot.iife.min.js`);
    expect(script.headers.get('content-type')).toMatch(/^text\/javascript/);
    expect(await script.text()).toMatch(/uPlot/);
    expect((await fetch(`${server.url}/assets/uplot.min.css`)).headers.get('content-type')).toMatch(/^text\/css/);
    expect((await fetch(`${server.url}/assets/nope.js`)).status).toBe(404);
    expect(await (await fetch(`${server.url}/metrics`)).text()).toBe('demo_up 1\n');
    expect(await (await fetch(`${server.url}/api/stats`)).json()).toEqual({ ok: 1 });
    expect(await (await fetch(`${server.url}/api/workspace-map.svg`)).text()).toMatch(/^<svg/);
    expect((await (await fetch(`${server.url}/v1/models`)).json()).data[0].id).toBe('mem-demo-byte-lm');
    expect(await (await fetch(`${server.url}/v1/models/mem-demo-byte-lm`)).json()).toEqual({
      id: 'mem-demo-byte-lm',
      object: 'model',
      created: 1_700_000_000,
      owned_by: 'mem',
    });
    const missing = await fetch(`${server.url}/v1/models/gpt%2D4`);
    expect(missing.status).toBe(404);
    expect((await missing.json()).error).toMatchObject({ code: 'model_not_found', message: /"gpt-4" does not exist/ });
  });

  it('answers a chat completion in the chat shape', async () => {
    const response = await fetch(`${server.url}/v1/chat/completions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ messages: [{ role: 'user', content: 'hi' }], max_tokens: 3 }),
    });
    const body = await response.json();
    expect(body).toMatchObject({ object: 'chat.completion', id: 'chatcmpl-test' });
    // The echo engine repeats the rendered prompt, which starts with the template's first marker.
    expect(body.choices[0]).toMatchObject({ message: { role: 'assistant', content: '<|i' }, finish_reason: 'length' });
  });

  it('answers an unknown route with 404 and a wrong method with 405 and Allow', async () => {
    expect((await fetch(`${server.url}/nope`)).status).toBe(404);
    const wrong = await fetch(`${server.url}/v1/completions`);
    expect(wrong.status).toBe(405);
    expect(wrong.headers.get('allow')).toBe('POST');
    expect((await fetch(`${server.url}/v1/chat/completions`)).status).toBe(405);
    expect((await fetch(`${server.url}/v1/models/x`, { method: 'POST' })).status).toBe(405);
    expect((await fetch(`${server.url}/metrics`, { method: 'DELETE' })).status).toBe(405);
  });
});

describe('the counted answers', () => {
  it('are all listed in HTTP_ROUTE_STATUSES, which the metrics export from the start', () => {
    expect(new Set(statuses).size).toBeGreaterThan(10);
    for (const answer of new Set(statuses)) {
      const [route, status] = answer.split(' ');
      expect(HTTP_ROUTE_STATUSES[route!], answer).toContain(Number(status));
    }
  });
});
