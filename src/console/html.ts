// Server-side HTML: a tagged template that escapes every interpolation unless it is already HTML. Nothing reaches the
// page unescaped but the templates themselves.

/** HTML known to be safe: produced by `html` from escaped parts. */
export class SafeHtml {
  constructor(readonly text: string) {}
  toString(): string {
    return this.text;
  }
}

type Part = SafeHtml | string | number | boolean | null | undefined | readonly Part[];

export function escapeHtml(text: string): string {
  return text.replace(/[&<>"'`]/g, (c) => `&#${c.charCodeAt(0)};`);
}

function render(part: Part): string {
  if (part === null || part === undefined || part === false) return '';
  if (part instanceof SafeHtml) return part.text;
  if (Array.isArray(part)) return part.map(render).join('');
  return escapeHtml(String(part));
}

export function html(strings: TemplateStringsArray, ...parts: Part[]): SafeHtml {
  let out = strings[0] ?? '';
  parts.forEach((p, i) => {
    out += render(p) + (strings[i + 1] ?? '');
  });
  return new SafeHtml(out);
}

export interface LayoutOptions {
  title: string;
  /** the navigation item to mark */
  nav?: 'overview' | 'entries' | 'batches' | 'audit';
  tokenMode: boolean;
  signedIn: boolean;
}

export function layout(o: LayoutOptions, body: SafeHtml): string {
  const item = (key: LayoutOptions['nav'], href: string, label: string) =>
    html`<a href="${href}"${o.nav === key ? new SafeHtml(' aria-current="page"') : ''}>${label}</a>`;
  return `<!DOCTYPE html>\n${html`<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>${o.title} · captcha-dlq console</title><link rel="stylesheet" href="/console.css"><script src="/console.js" defer></script></head>
<body><header><strong>captcha-dlq</strong> console <nav>${item('overview', '/', 'Overview')}${item('entries', '/entries', 'Entries')}${item('batches', '/batches', 'Batches')}${item('audit', '/audit', 'Audit')}</nav>
<span class="who">${o.tokenMode ? (o.signedIn ? 'signed in' : html`<a href="/login">sign in</a> to act`) : 'local (127.0.0.1)'}</span></header>
<main>${body}</main></body></html>`.text}\n`;
}
