/**
 * Chat: questions about the telemetry, answered from numbered evidence. The
 * answer streams from `/ai/chat/stream` (NDJSON) as it is written; if the
 * stream cannot be used, `/ai/chat` answers at once. Citations are chips that
 * open the evidence (a chart, an incident, a trace) in the dashboard.
 */
import { useEffect, useRef, useState } from 'preact/hooks';
import { useApi } from '../api';
import { Panel } from '../components';
import { rangeMinutes, useShared, useStore } from '../state';
import { displayText } from '../text';
import { LogControls, type LogsStatus, storedKey } from './logs';

interface Citation {
  id: string;
  kind: 'metric' | 'incident' | 'trace' | 'log';
  ref: string;
  snippet: string;
  url: string;
}

interface Done {
  citations: Citation[];
  mode: 'summary' | 'llm';
  evidenceWindow: { from: number; to: number; label: string };
  model?: string;
  fallback?: { reason: string };
  notes: string[];
}

interface Turn {
  question: string;
  text: string;
  state: 'asking' | 'streaming' | 'done' | 'failed';
  done?: Done;
  error?: string;
  /** How the answer came: streamed, or at once after the stream failed. */
  via?: 'stream' | 'fallback';
}

const SUGGESTIONS = [
  'How is the API doing in the last hour?',
  'Why did chat fail today?',
  'Which endpoint got slower in the last 6 hours?',
  'What did we spend on tokens yesterday?',
];

/** The hex SHA-256 CloudFront's origin access control needs for a POST to the streaming Function URL. */
async function bodyHash(body: string): Promise<string | undefined> {
  if (!globalThis.crypto?.subtle) return undefined;
  const digest = await crypto.subtle.digest('SHA-256', new TextEncoder().encode(body));
  return [...new Uint8Array(digest)].map((b) => b.toString(16).padStart(2, '0')).join('');
}

function headersFor(key: string): Record<string, string> {
  return {
    'content-type': 'application/json',
    accept: 'application/json',
    ...(key ? { 'x-api-key': key } : {}),
  };
}

async function problemText(response: Response): Promise<string> {
  try {
    const problem = (await response.json()) as { detail?: string; title?: string };
    return problem.detail ?? problem.title ?? `HTTP ${response.status}`;
  } catch {
    return `HTTP ${response.status}`;
  }
}

/** Streams an answer, calling `update` on every line; throws when the stream cannot be used at all. */
async function streamAnswer(body: string, key: string, update: (line: Record<string, unknown>) => void) {
  const hash = await bodyHash(body);
  if (!hash) throw new Error('no SubtleCrypto here (not a secure context)');
  const response = await fetch('/ai/chat/stream', {
    method: 'POST',
    headers: { ...headersFor(key), accept: 'application/x-ndjson', 'x-amz-content-sha256': hash },
    body,
  });
  if (response.status === 400 || response.status === 429) throw new AnswerError(await problemText(response));
  if (!response.ok || !response.body) throw new Error(`stream answered ${response.status}`);
  const reader = response.body.pipeThrough(new TextDecoderStream()).getReader();
  let buffer = '';
  let finished = false;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    buffer += value;
    let newline = buffer.indexOf('\n');
    while (newline >= 0) {
      const line = buffer.slice(0, newline).trim();
      buffer = buffer.slice(newline + 1);
      if (line) {
        const parsed = JSON.parse(line) as Record<string, unknown>;
        if ('done' in parsed || 'error' in parsed) finished = true;
        update(parsed);
      }
      newline = buffer.indexOf('\n');
    }
  }
  if (!finished) throw new Error('the stream ended without an answer');
}

/** A problem the server stated (bad question, rate limit): shown as it is, not retried another way. */
class AnswerError extends Error {}

export function ChatTab() {
  const { params } = useStore();
  const { config, tick } = useShared();
  const [changes, setChanges] = useState(0);
  const logs = useApi<LogsStatus>('/logs/status', tick + changes);
  const [turns, setTurns] = useState<Turn[]>([]);
  const [question, setQuestion] = useState('');
  const [useLlm, setUseLlm] = useState(false);
  const busy = turns.some((t) => t.state === 'asking' || t.state === 'streaming');
  const llm = config?.features.chatLlm;
  const answerEnd = useRef<HTMLDivElement>(null);

  useEffect(() => {
    answerEnd.current?.scrollIntoView?.({ block: 'nearest' });
  }, [turns]);

  const patchLast = (patch: (turn: Turn) => Turn) =>
    setTurns((all) => all.map((t, i) => (i === all.length - 1 ? patch(t) : t)));

  async function ask(text: string) {
    const q = text.trim();
    if (!q || busy) return;
    // The key the controls below keep; questions sent with it count against its own limit.
    const key = storedKey();
    setQuestion('');
    setTurns((all) => [...all, { question: q, text: '', state: 'asking' }]);
    const filters: Record<string, string> = {};
    if (params.source && params.source !== 'probe') filters.source = params.source;
    if (params.endpoint) filters.endpoint = params.endpoint;
    const body = JSON.stringify({
      question: q,
      window: rangeMinutes(params),
      ...(Object.keys(filters).length > 0 ? { filters } : {}),
      ...(useLlm && llm?.available ? { llm: true } : {}),
    });
    try {
      await streamAnswer(body, key, (line) => {
        if (typeof line.delta === 'string') {
          const delta = line.delta;
          patchLast((t) => ({ ...t, state: 'streaming', text: t.text + delta, via: 'stream' }));
        } else if (line.reset) patchLast((t) => ({ ...t, text: '' }));
        else if (line.done) patchLast((t) => ({ ...t, state: 'done', done: line as unknown as Done }));
        else if (typeof line.error === 'string') {
          const error = line.error;
          patchLast((t) => ({ ...t, state: 'failed', error }));
        }
      });
    } catch (error) {
      if (error instanceof AnswerError) {
        patchLast((t) => ({ ...t, state: 'failed', error: error.message }));
        return;
      }
      // The stream is unavailable (no SubtleCrypto on plain HTTP, a proxy that buffers, a dropped
      // connection): ask again without streaming.
      try {
        const response = await fetch('/ai/chat', { method: 'POST', headers: headersFor(key), body });
        if (!response.ok) throw new AnswerError(await problemText(response));
        const answer = (await response.json()) as Done & { answer: string };
        patchLast((t) => ({ ...t, state: 'done', text: answer.answer, done: answer, via: 'fallback' }));
      } catch (second) {
        patchLast((t) => ({ ...t, state: 'failed', error: (second as Error).message }));
      }
    }
  }

  return (
    <div class="stack">
      <Panel
        title="Ask about the telemetry"
        subtitle="Answers come from the figures, incidents and traces of the selected range; every claim cites its evidence."
        testId="chat-panel"
      >
        <div class="chat-log" aria-live="polite" data-testid="chat-log">
          {turns.length === 0 ? (
            <div class="chat-suggestions">
              <p class="panel-sub">Try one of these:</p>
              {SUGGESTIONS.map((s) => (
                <button key={s} type="button" class="btn btn-ghost btn-small" onClick={() => void ask(s)}>
                  {s}
                </button>
              ))}
            </div>
          ) : null}
          {turns.map((turn, i) => (
            <article key={i} class="chat-turn" data-testid="chat-turn" data-state={turn.state}>
              <p class="chat-question">{displayText(turn.question)}</p>
              <div class="chat-answer" aria-busy={turn.state === 'asking' || turn.state === 'streaming'}>
                {turn.state === 'asking' ? <span class="panel-sub">Gathering evidence…</span> : null}
                <p data-testid="chat-answer-text">{displayText(turn.text)}</p>
                {turn.error ? (
                  <p class="chat-error" role="alert">
                    {displayText(turn.error)}
                  </p>
                ) : null}
                {turn.done ? (
                  <>
                    <ul class="chips" aria-label="Citations">
                      {turn.done.citations.map((c) => (
                        <li key={c.id}>
                          <a
                            class="chip"
                            href={c.url}
                            title={displayText(c.snippet)}
                            data-testid="citation"
                            data-kind={c.kind}
                            data-ref={c.ref}
                          >
                            <span class="chip-id">{c.id}</span> {c.kind}
                          </a>
                        </li>
                      ))}
                    </ul>
                    <p class="panel-sub" data-testid="chat-meta">
                      {turn.done.mode === 'llm'
                        ? `Written by ${turn.done.model ?? 'the model'}`
                        : 'Written from the evidence by code'}
                      {` · ${turn.done.evidenceWindow.label}`}
                      {turn.via === 'fallback' ? ' · not streamed' : ''}
                      {turn.done.fallback ? ` · ${turn.done.fallback.reason}` : ''}
                    </p>
                  </>
                ) : null}
              </div>
            </article>
          ))}
          <div ref={answerEnd} />
        </div>
        <form
          class="chat-form"
          onSubmit={(e) => {
            e.preventDefault();
            void ask(question);
          }}
        >
          <label class="field chat-input">
            <span>Question</span>
            <textarea
              rows={2}
              maxLength={500}
              value={question}
              placeholder="Why did chat get slow at 14:00?"
              onInput={(e) => setQuestion((e.currentTarget as HTMLTextAreaElement).value)}
              onKeyDown={(e) => {
                if (e.key === 'Enter' && !e.shiftKey) {
                  e.preventDefault();
                  void ask(question);
                }
              }}
            />
          </label>
          <div class="chat-actions">
            <label
              class="switch"
              title={llm?.reason ?? `Let ${llm?.model ?? 'the model'} write the answer from the evidence`}
            >
              <input
                type="checkbox"
                checked={useLlm && Boolean(llm?.available)}
                disabled={!llm?.available}
                onChange={(e) => setUseLlm((e.currentTarget as HTMLInputElement).checked)}
                data-testid="use-llm"
              />
              <span>Use LLM</span>
            </label>
            {llm && !llm.available ? <span class="panel-sub">{llm.reason}</span> : null}
            <button type="submit" class="btn" disabled={busy || question.trim().length < 3}>
              Ask
            </button>
          </div>
        </form>
      </Panel>
      <LogControls status={logs.data} onChanged={() => setChanges((n) => n + 1)} />
    </div>
  );
}
