/**
 * Markdown tables laid out the way prettier lays them out (every column padded to its widest
 * cell), so that a generated page passes `prettier --check` as written.
 */

/** A column: its title and how its cells are aligned. */
export interface TableColumn {
  readonly title: string;
  readonly align: 'left' | 'right';
}

/** Characters of `text` as a monospace font shows them (every character used here is one column wide). */
function width(text: string): number {
  return [...text].length;
}

function escapeCell(text: string): string {
  return text.replaceAll('|', '\\|');
}

/** Renders `rows` (one string per column) under `columns`, without a trailing newline. */
export function markdownTable(columns: readonly TableColumn[], rows: readonly (readonly string[])[]): string {
  const cells = rows.map((row) => columns.map((_, index) => escapeCell(row[index] ?? '')));
  const titles = columns.map((column) => escapeCell(column.title));
  const widths = columns.map((_, index) =>
    Math.max(3, width(titles[index]!), ...cells.map((row) => width(row[index]!))),
  );
  const line = (row: readonly string[]): string =>
    `| ${row
      .map((cell, index) => {
        const padding = ' '.repeat(widths[index]! - width(cell));
        return columns[index]!.align === 'right' ? padding + cell : cell + padding;
      })
      .join(' | ')} |`;
  const rule = `| ${columns
    .map((column, index) =>
      column.align === 'right' ? `${'-'.repeat(widths[index]! - 1)}:` : '-'.repeat(widths[index]!),
    )
    .join(' | ')} |`;
  return [line(titles), rule, ...cells.map(line)].join('\n');
}
