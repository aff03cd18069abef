/**
 * Drafting a monitor from a sentence. Two drafters, one result shape:
 * - `openai`: the Responses API with structured output (a strict JSON schema
 *   from zod, shared/ai/text-format.ts), against api.openai.com with a key or the local
 *   simulator without one. The model fills a flat, all-fields-required draft
 *   (strict mode wants every field present; absent ones are null), which is
 *   turned into a spec and validated again like anything a user sends.
 * - `rules`: no model. It reads the common sentences ("visit URL, type X in
 *   the search box, press Enter, pass if Y appears, every 5 minutes") and says
 *   which parts it did not understand.
 * Neither saves anything: the caller reviews the draft, then creates it.
 */
import type { Config } from '../config.js';
import { HttpProblem } from '../http/problem.js';
import { openaiClient } from '../openai-client.js';
import * as z from '../zod.js';
import { type MonitorSpec, monitorSpec, STEP_ACTIONS, type Step, type Target } from './spec.js';

export const MAX_PROMPT_CHARS = 2000;

export interface Draft {
  spec: MonitorSpec;
  /** Who drafted it: `openai` (the real API), `simulator` (the local stand-in) or `rules`. */
  source: 'openai' | 'simulator' | 'rules';
  /** What the drafter wants the reader to check. */
  notes: string[];
}

// ---------------------------------------------------------------- rules

const URL_PATTERN = /\bhttps?:\/\/[^\s"'<>]+[^\s"'<>.,;:!?)]/i;
const BARE_HOST = /\b((?:[a-z0-9-]+\.)+[a-z]{2,})(\/[^\s"'<>]*)?/i;
const QUOTED = /["“'‘]([^"”'’]+)["”'’]/;

function firstUrl(text: string): string | undefined {
  const url = URL_PATTERN.exec(text)?.[0];
  if (url) return url;
  const host = BARE_HOST.exec(text);
  return host ? `https://${host[1]}${host[2] ?? '/'}` : undefined;
}

/** A field phrase ("the search box", "the Email field") as a target. */
function fieldTarget(phrase: string): Target {
  const quoted = QUOTED.exec(phrase)?.[1];
  if (quoted) return { label: quoted };
  const words = phrase
    .replace(/^(the|a|an)\s+/i, '')
    .replace(/\s+(input|field|box|textbox|text box)$/i, '')
    .trim();
  if (/^search\b/i.test(words) || /^(input|field|box)$/i.test(phrase.replace(/^(the|a|an)\s+/i, '').trim())) {
    return /search/i.test(words) ? { role: 'searchbox' } : { css: 'input:not([type=hidden])' };
  }
  return { label: words };
}

const KEYS: Record<string, string> = {
  enter: 'Enter',
  return: 'Enter',
  tab: 'Tab',
  escape: 'Escape',
  esc: 'Escape',
};

type Drafted = Step | { everySec: number } | undefined;

/** The quoted part of a phrase, else the phrase trimmed. */
const unquoted = (phrase: string) => QUOTED.exec(phrase)?.[1] ?? phrase.trim();

/** The sentence patterns the rules understand, tried in order; the first that matches and builds a step wins. */
const RULES: [RegExp, (m: RegExpExecArray, clause: string) => Drafted][] = [
  [
    /\bevery\s+(\d+)\s*(minute|min|hour|h)s?\b/i,
    (m) => ({ everySec: /^h/i.test(m[2] as string) ? Number(m[1]) * 3600 : Number(m[1]) * 60 }),
  ],
  [
    /^(?:visit|open|go to|navigate to|load|check)\b/i,
    (_m, clause) => {
      const url = firstUrl(clause);
      return url ? { action: 'goto', url } : undefined;
    },
  ],
  [
    /^(?:type|enter|fill in|fill|write|search for)\s+(.+?)\s+(?:in|into)\s+(.+)$/i,
    (m) => ({ action: 'fill', target: fieldTarget(m[2] as string), value: unquoted(m[1] as string) }),
  ],
  [
    /^press\s+(?:the\s+)?(\w+)(?:\s+key)?$/i,
    (m) => {
      const key = KEYS[(m[1] as string).toLowerCase()];
      return key ? { action: 'press', key } : undefined;
    },
  ],
  [
    /^click(?:\s+on)?\s+(?:the\s+)?(.+?)(?:\s+(button|link))?$/i,
    (m) => {
      const name = unquoted(m[1] as string);
      return m[2]
        ? { action: 'click', target: { role: (m[2] as string).toLowerCase(), name } }
        : { action: 'click', target: { text: name } };
    },
  ],
  [
    /\btitle\s+(?:contains|is|says)\s+(.+)$/i,
    (m) => ({ action: 'expectTitle', title: unquoted(m[1] as string), match: 'contains' }),
  ],
  [/\bstatus(?:\s+code)?\s+(?:is\s+)?(\d{3})\b/i, (m) => ({ action: 'expectStatus', status: Number(m[1]) })],
  [/^(?:take\s+)?(?:a\s+)?screenshot$/i, () => ({ action: 'screenshot' })],
  [
    /^(?:pass(?:es)?\s+if|passes\s+when|expect|check\s+that|verify(?:\s+that)?|make\s+sure|ensure|should\s+see|see)\s+(?:the\s+(?:text|page\s+shows)\s+)?(.+?)(?:\s+(?:appears|is\s+shown|is\s+visible|shows\s+up|is\s+displayed|shows))?$/i,
    (m) => {
      const text = unquoted(m[1] as string);
      return text ? { action: 'expectText', text } : undefined;
    },
  ],
];

/** One clause of the sentence as a step, or undefined when it is not understood. */
function clauseStep(clause: string): Drafted {
  const c = clause.trim().replace(/[.!]+$/, '');
  for (const [pattern, build] of RULES) {
    const match = pattern.exec(c);
    const step = match ? build(match, c) : undefined;
    if (step) return step;
  }
  return undefined;
}

/** Splits a sentence into clauses: commas, semicolons, "then", and "and" before a verb. */
function clauses(prompt: string): string[] {
  return prompt
    .split(
      /\s*(?:[,;]|\.\s|\bthen\b|\band\s+(?=(?:type|enter|fill|press|click|pass|expect|check|verify|make|ensure|take|see|wait|run)\b))\s*/i,
    )
    .map((c) => c.replace(/^(?:and|then)\s+/i, '').trim())
    .filter(Boolean);
}

export function draftByRules(prompt: string): Draft {
  const steps: Step[] = [];
  const notes = ['Drafted by rules (no OpenAI key): check the targets and texts before saving.'];
  let everySec: number | undefined;
  let startUrl: string | undefined;
  for (const clause of clauses(prompt)) {
    const step = clauseStep(clause);
    if (!step) {
      notes.push(`Not understood, left out: "${clause.slice(0, 80)}"`);
      continue;
    }
    if ('everySec' in step) {
      everySec = step.everySec;
      continue;
    }
    if (step.action === 'goto' && startUrl === undefined) {
      startUrl = step.url;
      continue;
    }
    steps.push(step);
  }
  if (!startUrl) {
    throw new HttpProblem(
      422,
      'Unprocessable Content',
      'prompt: no URL found; say which page to visit (https://…)',
      {
        field: 'prompt',
      },
    );
  }
  const host = new URL(startUrl).hostname;
  const parsed = monitorSpec.safeParse({
    name: `Check ${host}`.slice(0, 100),
    startUrl,
    schedule: everySec === undefined ? 'off' : { everySec: Math.min(Math.max(everySec, 60), 86_400) },
    steps: steps.slice(0, 25),
  });
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw new HttpProblem(
      422,
      'Unprocessable Content',
      `prompt: the draft is not a valid monitor (${issue?.path.join('.')}: ${issue?.message})`,
      { field: 'prompt' },
    );
  }
  return { spec: parsed.data, source: 'rules', notes };
}

// ---------------------------------------------------------------- OpenAI

const TARGET_KINDS = ['role', 'label', 'text', 'testId', 'css'] as const;

/** The flat shape the model fills: every field present, null when unused (strict structured output). */
export const modelDraft = z.object({
  name: z.string().check(z.describe('A short name for the monitor')),
  start_url: z.string().check(z.describe('The absolute http(s) URL the monitor opens first')),
  every_minutes: z
    .nullable(z.number().check(z.int()))
    .check(z.describe('Minutes between scheduled runs, or null for manual runs only')),
  steps: z
    .array(
      z.object({
        action: z.enum(STEP_ACTIONS),
        url: z.nullable(z.string()).check(z.describe('goto: the URL; expectUrl: text the URL contains')),
        target_kind: z.nullable(z.enum(TARGET_KINDS)),
        target_value: z
          .nullable(z.string())
          .check(z.describe('The role, label, visible text, test id or CSS selector')),
        target_name: z.nullable(z.string()).check(z.describe('With role: the accessible name')),
        text: z
          .nullable(z.string())
          .check(z.describe('fill: the value; expectText and expectTitle: the text expected')),
        key: z.nullable(z.string()).check(z.describe('press: a key such as Enter')),
        status: z.nullable(z.number().check(z.int())).check(z.describe('expectStatus: the HTTP status')),
      }),
    )
    .check(z.describe('At most 25 steps after opening start_url')),
});
type ModelDraft = z.infer<typeof modelDraft>;

const INSTRUCTIONS = [
  'You write synthetic browser monitors as declarative steps. Never write code.',
  'Open start_url first (do not repeat it as a goto step). Find elements by role and name, label, visible text, test id or CSS, preferring role and label.',
  'End with an expectation that proves the journey worked (expectText, expectTitle, expectUrl or expectStatus).',
  'Never put passwords or keys in a step.',
].join(' ');

function targetOf(step: ModelDraft['steps'][number]): Target | undefined {
  const value = step.target_value ?? undefined;
  if (!step.target_kind || !value) return undefined;
  if (step.target_kind === 'role')
    return step.target_name ? { role: value, name: step.target_name } : { role: value };
  return { [step.target_kind]: value } as Target;
}

/** The model's flat draft as spec input (validated by the caller). */
export function specInputOf(draft: ModelDraft): unknown {
  const steps = draft.steps.map((s) => {
    const target = targetOf(s);
    const common = { action: s.action };
    switch (s.action) {
      case 'goto':
        return { ...common, url: s.url };
      case 'click':
      case 'waitFor':
        return { ...common, target };
      case 'fill':
        return { ...common, target, value: s.text ?? '' };
      case 'press':
        return { ...common, key: s.key, ...(target ? { target } : {}) };
      case 'expectText':
        return { ...common, text: s.text, ...(target ? { target } : {}) };
      case 'expectTitle':
        return { ...common, title: s.text };
      case 'expectUrl':
        return { ...common, url: s.url ?? s.text };
      case 'expectStatus':
        return { ...common, status: s.status };
      default:
        return common;
    }
  });
  return {
    name: draft.name,
    startUrl: draft.start_url,
    schedule: draft.every_minutes ? { everySec: draft.every_minutes * 60 } : 'off',
    steps,
  };
}

export async function draftWithOpenAI(prompt: string, config: Config): Promise<Draft> {
  if (!config.openaiBaseUrl) {
    throw new HttpProblem(
      503,
      'Service Unavailable',
      'No OpenAI key and no simulator: use drafter "rules".',
      {
        field: 'drafter',
      },
    );
  }
  const client = await openaiClient('draft', {
    apiKey: config.openaiApiKey,
    baseURL: config.openaiBaseUrl,
    maxRetries: 1,
    timeoutMs: Math.max(config.httpTimeoutMs, 20_000),
  });
  // With the SDK's parser, on first use: the synthetics function's other routes never load it.
  const { textFormat } = await import('../ai/text-format.js');
  let parsed: ModelDraft | null;
  try {
    const response = await client.responses.parse({
      model: config.openaiModel,
      instructions: INSTRUCTIONS,
      input: prompt,
      text: { format: textFormat(modelDraft, 'synthetic_monitor') },
      store: false,
    });
    parsed = response.output_parsed;
  } catch (error) {
    throw new HttpProblem(
      502,
      'Bad Gateway',
      `The drafting model failed: ${(error as Error).message.slice(0, 200)}`,
    );
  }
  if (!parsed) throw new HttpProblem(502, 'Bad Gateway', 'The drafting model returned no draft.');
  const checked = monitorSpec.safeParse(specInputOf(parsed));
  if (!checked.success) {
    const issue = checked.error.issues[0];
    throw new HttpProblem(
      502,
      'Bad Gateway',
      `The model's draft is not a valid monitor (${issue?.path.join('.')}: ${issue?.message}); try the "rules" drafter or rephrase.`,
    );
  }
  return {
    spec: checked.data,
    source: config.upstream === 'real' ? 'openai' : 'simulator',
    notes: [
      config.upstream === 'real'
        ? `Drafted by ${config.openaiModel}: check the steps before saving.`
        : 'Drafted by the local OpenAI simulator (no key): its steps are placeholders.',
    ],
  };
}

export const draftRequest = z.strictObject({
  prompt: z.string().check(z.trim(), z.minLength(1), z.maxLength(MAX_PROMPT_CHARS)),
  /** `auto`: OpenAI with a key, else rules. */
  drafter: z._default(z.enum(['auto', 'openai', 'rules']), 'auto'),
});

export async function draftMonitor(body: z.output<typeof draftRequest>, config: Config): Promise<Draft> {
  const useModel = body.drafter === 'openai' || (body.drafter === 'auto' && config.upstream === 'real');
  return useModel ? draftWithOpenAI(body.prompt, config) : draftByRules(body.prompt);
}
