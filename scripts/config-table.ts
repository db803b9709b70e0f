// Prints the README's configuration table from the settings declaration (npm run config:doc).
import { SETTINGS, type Setting } from '../src/config/settings';

const cell = (text: string) => text.replace(/\|/g, '\\|').replace(/\n/g, ' ');
const defaults = (s: Setting) => {
  const required = s.requiredInProduction === 'to serve' ? 'required in production (by `start`, not by the other commands)' : 'required in production';
  if (s.requiredInProduction) return s.devDefault ? `\`${s.devDefault}\`; ${required}` : required;
  if (s.devDefault === undefined) return '—';
  return s.prodDefault ? `\`${s.devDefault}\` (production: \`${s.prodDefault}\`)` : `\`${s.devDefault}\``;
};

const lines = ['| setting | default | what it does |', '|---|---|---|'];
for (const s of SETTINGS as readonly Setting[]) lines.push(`| \`${s.env}\` | ${defaults(s)} | ${cell(s.doc)} |`);
process.stdout.write(lines.join('\n') + '\n');
