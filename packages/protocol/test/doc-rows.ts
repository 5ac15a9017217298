/** `markdown` without the table rows whose first cell is one of `names` (as `| \`name\` |`). */
export function withoutRows(markdown: string, ...names: string[]): string {
  return markdown
    .split('\n')
    .filter((line) => !names.some((name) => line.startsWith(`| \`${name}\` |`)))
    .join('\n');
}
