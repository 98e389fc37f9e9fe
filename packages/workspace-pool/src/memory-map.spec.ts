import { describe, expect, it } from 'vitest';
import { renderMemoryMap } from './memory-map-svg.js';
import { checkMemoryMap } from './pool-invariants.test-helper.js';
import { WorkspacePool } from './workspace-pool.js';

const KiB = 1024;

function fragmentedPool(): WorkspacePool {
  const pool = new WorkspacePool({ initialSize: 64 * KiB }, { name: 'attention' });
  const blocks = Array.from({ length: 8 }, (_, i) => pool.acquire(8 * KiB, { label: `layer.${i}` }));
  blocks[0]!.release();
  blocks[4]!.release();
  blocks[2]!.pin();
  pool.acquire(96 * KiB); // an expansion segment
  return pool;
}

describe('snapshot', () => {
  it('lists every segment and block with offset, size, state, owner and label', () => {
    const pool = fragmentedPool();
    const snapshot = pool.snapshot();
    checkMemoryMap(snapshot);
    expect(snapshot.pool).toBe('attention');
    expect(snapshot.segments.map((segment) => [segment.index, segment.initial, segment.kind])).toEqual([
      [0, true, 'array-buffer'],
      [1, false, 'array-buffer'],
    ]);
    const blocks = snapshot.segments[0]!.blocks;
    expect(blocks.map((block) => block.state)).toEqual([
      'free',
      'used',
      'pinned',
      'used',
      'free',
      'used',
      'used',
      'used',
    ]);
    expect(blocks[2]).toMatchObject({ offset: 16 * KiB, size: 8 * KiB, label: 'layer.2', requested: 8 * KiB });
    expect(snapshot.segments[0]!.fragmentation).toBe(0.5);
    expect(snapshot.fragmentation).toBe(pool.fragmentationRatio());
  });

  it('is plain JSON', () => {
    const snapshot = fragmentedPool().snapshot();
    expect(JSON.parse(JSON.stringify(snapshot))).toEqual(snapshot);
  });
});

describe('renderMemoryMap', () => {
  it('draws a standalone SVG with one bar per segment and every wide block', () => {
    const svg = renderMemoryMap(fragmentedPool().snapshot(), { width: 800 });
    expect(svg.startsWith('<svg xmlns="http://www.w3.org/2000/svg" width="800"')).toBe(true);
    expect(svg.trimEnd().endsWith('</svg>')).toBe(true);
    expect(svg).toContain('segment 0: 64.0 KiB array-buffer');
    expect(svg).toContain('segment 1 (expansion)');
    expect(svg).toContain('workspace #3 &#34;layer.2&#34; (pinned): 8192 bytes at 16384');
    expect(svg).toContain('fill="#e8871e"'); // the pinned colour
    expect((svg.match(/<title>workspace #/g) ?? []).length).toBe(7);
  });

  it('draws blocks narrower than a pixel together', () => {
    const pool = new WorkspacePool({ initialSize: 1024 * KiB, alignment: 8 });
    for (let i = 0; i < 2000; i += 1) pool.acquire(8);
    const svg = renderMemoryMap(pool.snapshot(), { width: 200 });
    expect((svg.match(/<rect/g) ?? []).length).toBeLessThan(200);
    expect(svg).toMatch(/blocks at 0\.\.\d+: \d+ bytes used/);
  });

  it('escapes names, labels and titles', () => {
    const pool = new WorkspacePool({}, { name: '<pool & "co">' });
    pool.acquire(64 * KiB, { label: '</title><script>' });
    const svg = renderMemoryMap(pool.snapshot(), { title: "it's <b>" });
    expect(svg).not.toContain('<script>');
    expect(svg).toContain('&#60;/title&#62;&#60;script&#62;');
    expect(svg).toContain('it&#39;s &#60;b&#62;');
  });

  it('takes colours and can leave tooltips out', () => {
    const pool = new WorkspacePool();
    pool.acquire(64 * KiB);
    const svg = renderMemoryMap(pool.snapshot(), { colors: { used: 'rebeccapurple' }, tooltips: false });
    expect(svg).toContain('fill="rebeccapurple"');
    expect(svg).not.toContain('<title>');
  });

  it('draws an empty pool', () => {
    const svg = renderMemoryMap(new WorkspacePool().snapshot());
    expect(svg).toContain('0 workspaces, fragmentation 0.000');
  });
});
