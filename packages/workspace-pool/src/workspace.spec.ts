import { describe, expect, it } from 'vitest';
import { expectMemError } from '@mem/testkit/expect-mem-error';
import { WorkspacePool } from './workspace-pool.js';
import { Workspace } from './workspace.js';

describe('Workspace views', () => {
  it('returns the same byte view until the workspace moves', () => {
    const pool = new WorkspacePool();
    const workspace = pool.acquire(100);
    expect(workspace.bytes()).toBe(workspace.bytes());
    expect(workspace.bytes().byteOffset).toBe(workspace.byteOffset);
  });

  it('gives typed views of floor(size / element size) elements, aligned', () => {
    const pool = new WorkspacePool({ alignment: 8 });
    pool.acquire(8); // shift the next workspace away from offset 0
    const workspace = pool.acquire(30);
    expect(workspace.float32().length).toBe(7);
    expect(workspace.float64().length).toBe(3);
    expect(workspace.int32().length).toBe(7);
    expect(workspace.uint32().length).toBe(7);
    expect(workspace.view(Int16Array).length).toBe(15);
    expect(workspace.view(BigInt64Array).length).toBe(3);
    expect(workspace.float64().byteOffset % 8).toBe(0);
    expect(workspace.float32()).toBe(workspace.float32());
  });

  it('shares bytes between the byte view and typed views', () => {
    const pool = new WorkspacePool();
    const workspace = pool.acquire(16);
    workspace.float32()[1] = 1.5;
    expect(new Float32Array(workspace.bytes().buffer, workspace.byteOffset + 4, 1)[0]).toBe(1.5);
  });

  it('re-resolves its views after defragmentation moved it, with its bytes intact', () => {
    const pool = new WorkspacePool({ initialSize: 64 * 1024 });
    const first = pool.acquire(1024);
    const second = pool.acquire(1024);
    second.bytes().set([1, 2, 3, 4]);
    const before = second.bytes();
    const float = second.float32();
    first.release();
    pool.defragment();
    expect(second.byteOffset).toBe(0);
    expect(second.bytes()).not.toBe(before);
    expect([...second.bytes().subarray(0, 4)]).toEqual([1, 2, 3, 4]);
    expect(second.float32()).not.toBe(float);
    expect(second.float32().byteOffset).toBe(0);
  });

  it('rejects a view type that is not a typed-array constructor', () => {
    const pool = new WorkspacePool();
    const workspace = pool.acquire(16);
    expectMemError(() => workspace.view(Array as never), 'INVALID_ARGUMENT');
    expectMemError(() => workspace.view(null as never), 'INVALID_ARGUMENT');
    expect(workspace.float32().length).toBe(4);
  });

  it('reports its segment and buffer', () => {
    const pool = new WorkspacePool({ initialSize: 1024 });
    const first = pool.acquire(1024);
    const second = pool.acquire(512);
    expect(first.segment).toBe(0);
    expect(second.segment).toBe(1);
    expect(second.buffer).not.toBe(first.buffer);
  });
});

describe('Workspace lifetime', () => {
  it('throws DOUBLE_FREE on a second release and USE_AFTER_RELEASE on use after release', () => {
    const pool = new WorkspacePool();
    const workspace = pool.acquire(64);
    workspace.release();
    expectMemError(() => workspace.release(), 'DOUBLE_FREE');
    expectMemError(() => workspace.bytes(), 'USE_AFTER_RELEASE');
    expectMemError(() => workspace.float32(), 'USE_AFTER_RELEASE');
    expectMemError(() => workspace.byteOffset, 'USE_AFTER_RELEASE');
    expectMemError(() => workspace.buffer, 'USE_AFTER_RELEASE');
    expectMemError(() => workspace.segment, 'USE_AFTER_RELEASE');
    expectMemError(() => workspace.pin(), 'USE_AFTER_RELEASE');
    expectMemError(() => workspace.unpin(), 'USE_AFTER_RELEASE');
    expect(pool.stats().releases).toBe(1);
  });

  it('throws USE_AFTER_RELEASE from every member that reaches its memory once released, and STALE_HANDLE once cleared', () => {
    const uses: [string, (workspace: Workspace) => unknown][] = [
      ['bytes', (workspace) => workspace.bytes()],
      ['view', (workspace) => workspace.view(Float32Array)],
      ['float32', (workspace) => workspace.float32()],
      ['float64', (workspace) => workspace.float64()],
      ['int32', (workspace) => workspace.int32()],
      ['uint32', (workspace) => workspace.uint32()],
      ['buffer', (workspace) => workspace.buffer],
      ['byteOffset', (workspace) => workspace.byteOffset],
      ['segment', (workspace) => workspace.segment],
      ['capacity', (workspace) => workspace.capacity],
      ['pin', (workspace) => workspace.pin()],
      ['unpin', (workspace) => workspace.unpin()],
    ];
    const pool = new WorkspacePool();
    const released = pool.acquire(64);
    released.release();
    const cleared = pool.acquire(64);
    pool.clear();
    for (const [name, use] of uses) {
      expectMemError(() => use(released), 'USE_AFTER_RELEASE', name);
      expectMemError(() => use(cleared), 'STALE_HANDLE', name);
    }
    expectMemError(() => cleared.release(), 'STALE_HANDLE');
    expectMemError(() => pool.release(cleared), 'STALE_HANDLE');
    // What never throws says so instead.
    expect([released.released, released.stale, released.pinned, released.pinCount, released.label]).toEqual([
      true,
      false,
      false,
      0,
      undefined,
    ]);
    expect([cleared.released, cleared.stale, cleared.pinned, cleared.pinCount, cleared.label]).toEqual([
      false,
      true,
      false,
      0,
      undefined,
    ]);
    expect(pool.stats().liveWorkspaces).toBe(0);
  });

  it('is released at scope end by using, and a released one is left alone', () => {
    const pool = new WorkspacePool();
    {
      using workspace = pool.acquire(64);
      workspace.bytes().fill(1);
    }
    expect(pool.stats().liveWorkspaces).toBe(0);
    {
      using workspace = pool.acquire(64);
      workspace.release();
    }
    expect(pool.stats().releases).toBe(2);
  });

  it('is lent by a pool only: one built by hand is foreign to every pool', () => {
    const pool = new WorkspacePool();
    const lent = pool.acquire(64);
    // @ts-expect-error the constructor is private: workspaces come from WorkspacePool.acquire
    const forged: Workspace = new Workspace({ owner: {} }, 0, lent.id, 64);
    expectMemError(() => pool.release(forged), 'FOREIGN_HANDLE');
    expect(lent.released).toBe(false);
    expect(pool.stats().liveWorkspaces).toBe(1);
  });

  it('names itself in error messages', () => {
    const pool = new WorkspacePool();
    const workspace = pool.acquire(64);
    workspace.release();
    expect(() => workspace.release()).toThrow(`workspace #${workspace.id} (64 bytes) was already released`);
  });
});

describe('Workspace pins', () => {
  it('nests pins and counts them', () => {
    const pool = new WorkspacePool();
    const workspace = pool.acquire(64);
    expect(workspace.pinned).toBe(false);
    expect(workspace.pin()).toBe(workspace.bytes());
    workspace.pin();
    expect(workspace.pinCount).toBe(2);
    expect(pool.stats().pinnedWorkspaces).toBe(1);
    workspace.unpin();
    expect(workspace.pinned).toBe(true);
    workspace.unpin();
    expect(workspace.pinned).toBe(false);
    expect(pool.stats().pinnedWorkspaces).toBe(0);
  });

  it('refuses to unpin a workspace that is not pinned', () => {
    const pool = new WorkspacePool();
    const workspace = pool.acquire(64);
    expectMemError(() => workspace.unpin(), 'INVALID_ARGUMENT');
    expect(workspace.pinCount).toBe(0);
  });

  it('refuses to release a pinned workspace, and releases it once unpinned', () => {
    const pool = new WorkspacePool();
    const workspace = pool.acquire(64);
    workspace.pin();
    expectMemError(() => workspace.release(), 'PINNED');
    expect(workspace.released).toBe(false);
    expect(pool.stats().liveWorkspaces).toBe(1);
    expectMemError(() => workspace[Symbol.dispose](), 'PINNED');
    workspace.unpin();
    workspace.release();
    expect(pool.stats().liveWorkspaces).toBe(0);
  });

  it('releases unpinned workspaces while another is pinned, and still refuses the pinned one', () => {
    const pool = new WorkspacePool();
    const pinned = pool.acquire(64);
    const free = pool.acquire(64);
    pinned.pin();
    pinned.pin();
    free.release();
    expectMemError(() => pinned.release(), 'PINNED');
    pinned.unpin();
    expectMemError(() => pinned.release(), 'PINNED');
    pinned.unpin();
    pinned.release();
    expect(pool.stats()).toMatchObject({ liveWorkspaces: 0, pinnedWorkspaces: 0 });
  });

  it('keeps a raw view valid across asynchronous work while pinned', async () => {
    const pool = new WorkspacePool({ initialSize: 64 * 1024 });
    const hole = pool.acquire(4096);
    const workspace = pool.acquire(4096);
    const raw = workspace.pin();
    const offset = workspace.byteOffset;
    hole.release();
    await Promise.resolve();
    pool.defragment();
    raw.fill(5);
    expect(workspace.byteOffset).toBe(offset);
    expect(workspace.bytes().every((byte) => byte === 5)).toBe(true);
    workspace.unpin();
  });

  it('reports no pins once released', () => {
    const pool = new WorkspacePool();
    const workspace = pool.acquire(64);
    workspace.release();
    expect(workspace.pinCount).toBe(0);
  });
});
