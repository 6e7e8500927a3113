/** A fenced code block of a Markdown document, with where it is and what section it is in. */
export interface CodeBlock {
  /** The info string's first word: `yaml`, `sh`, `json`, `text`, or '' when none. */
  lang: string;
  text: string;
  /** 1-based line of the opening fence. */
  line: number;
  /** The nearest heading above the block. */
  heading: string;
}

export interface Section {
  heading: string;
  level: number;
  /** 1-based line of the heading. */
  line: number;
  /** The section's lines up to the next heading of the same or a higher level. */
  body: string;
}

/** Every fenced block (``` or ~~~) in document order. Headings inside code blocks are not headings. */
export function codeBlocks(markdown: string): CodeBlock[] {
  const blocks: CodeBlock[] = [];
  const lines = markdown.split('\n');
  let heading = '';
  let open: { fence: string; lang: string; line: number; body: string[] } | undefined;
  lines.forEach((line, index) => {
    if (open) {
      if (line.trim() === open.fence) {
        blocks.push({ lang: open.lang, text: `${open.body.join('\n')}\n`, line: open.line, heading });
        open = undefined;
      } else {
        open.body.push(line);
      }
      return;
    }
    const fence = /^(```+|~~~+)\s*([\w-]*)/.exec(line);
    if (fence) {
      open = { fence: fence[1]!, lang: fence[2] ?? '', line: index + 1, body: [] };
      return;
    }
    const title = /^#{1,6}\s+(.*)$/.exec(line);
    if (title) heading = title[1]!.trim();
  });
  if (open) throw new Error(`code block opened at line ${open.line} is never closed`);
  return blocks;
}

/** The sections whose heading matches, code blocks included in their bodies. */
export function sections(markdown: string): Section[] {
  const lines = markdown.split('\n');
  const found: Array<{ heading: string; level: number; line: number }> = [];
  let inFence: string | undefined;
  lines.forEach((line, index) => {
    const fence = /^(```+|~~~+)/.exec(line);
    if (fence) {
      if (inFence === undefined) inFence = fence[1];
      else if (line.trim() === inFence) inFence = undefined;
      return;
    }
    if (inFence !== undefined) return;
    const title = /^(#{1,6})\s+(.*)$/.exec(line);
    if (title) found.push({ heading: title[2]!.trim(), level: title[1]!.length, line: index + 1 });
  });
  return found.map((section, i) => {
    const next = found.slice(i + 1).find((s) => s.level <= section.level);
    const body = lines.slice(section.line, next ? next.line - 1 : lines.length).join('\n');
    return { ...section, body };
  });
}

/** The first cell of each row of every Markdown table in `text`, without backticks; header and rule rows left out. */
export function tableFirstColumns(text: string): string[][] {
  const tables: string[][] = [];
  let current: string[] | undefined;
  let rowIndex = 0;
  for (const line of text.split('\n')) {
    if (!line.trim().startsWith('|')) {
      if (current) tables.push(current);
      current = undefined;
      continue;
    }
    if (!current) {
      current = [];
      rowIndex = 0;
    }
    rowIndex += 1;
    // Row 1 is the header, row 2 the |---| rule.
    if (rowIndex <= 2) continue;
    const first = line.trim().slice(1).split('|')[0]?.trim() ?? '';
    current.push(first.replace(/`/g, ''));
  }
  if (current) tables.push(current);
  return tables;
}
