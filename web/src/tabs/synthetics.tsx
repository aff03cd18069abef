/**
 * Synthetics: create a monitor from a sentence (draft → edit the JSON, with
 * the API's validation messages → create → run now, showing the steps and
 * the screenshot), and the monitors with their recent runs: pass rate, the
 * last run's result and its step timings.
 *
 * Writes need the API key (INGEST_API_KEY); it is kept for this browser tab
 * only (sessionStorage) and sent as `x-api-key`.
 */
import { useState } from 'preact/hooks';
import { ApiError, apiUrl, useApi } from '../api';
import { Async, Panel, ScrollRegion } from '../components';
import { dateTime } from '../format';
import { useShared } from '../state';
import { displayText } from '../text';

interface Step {
  name: string;
  action: string;
  ok: boolean;
  skipped?: boolean;
  ms: number;
  error?: string;
}
interface Run {
  id: string;
  monitorId: string;
  monitorName: string;
  ts: number;
  ok: boolean;
  statusText: string;
  runner: string;
  attempts: number;
  durationMs: number;
  steps: Step[];
  screenshot?: string;
  logs: string[];
}
interface Monitor {
  id: string;
  spec: { name: string; startUrl: string; schedule: 'off' | { everySec: number }; steps: unknown[] };
}
interface Problem {
  detail?: string;
  errors?: { field: string; message: string }[];
}

const KEY_STORAGE = 'openai-status.apiKey';

/** A write to the API with the key; a problem answer becomes an ApiError whose detail lists every field error. */
async function send<T>(method: string, path: string, key: string, body?: unknown): Promise<T> {
  const response = await fetch(path, {
    method,
    headers: { 'content-type': 'application/json', accept: 'application/json', 'x-api-key': key },
    body: body === undefined ? null : JSON.stringify(body),
  });
  const answer = (await response.json().catch(() => ({}))) as T & Problem;
  if (!response.ok) {
    const fields = answer.errors?.map((e) => `${e.field}: ${e.message}`) ?? [];
    throw new ApiError(
      response.status,
      response.statusText,
      fields.length > 1 ? fields.join('\n') : (answer.detail ?? `HTTP ${response.status}`),
    );
  }
  return answer;
}

function StepsTable(props: { steps: Step[] }) {
  return (
    <ScrollRegion label="Steps of the run">
      <table class="table" data-testid="synthetic-steps">
        <thead>
          <tr>
            <th scope="col">Step</th>
            <th scope="col">Result</th>
            <th scope="col" class="num">
              ms
            </th>
          </tr>
        </thead>
        <tbody>
          {props.steps.map((step, i) => (
            <tr key={i} data-ok={step.ok} data-skipped={step.skipped ?? false}>
              <td>{displayText(step.name)}</td>
              <td>
                {step.skipped ? 'skipped' : step.ok ? 'passed' : 'failed'}
                {step.error ? ` — ${displayText(step.error)}` : ''}
              </td>
              <td class="num">{step.ms}</td>
            </tr>
          ))}
        </tbody>
      </table>
    </ScrollRegion>
  );
}

function RunResult(props: { run: Run }) {
  const { run } = props;
  return (
    <div class="stack" data-testid="synthetic-run" data-ok={run.ok}>
      <p class={run.ok ? 'ok' : 'inline-warning'} role="status">
        {displayText(run.statusText)} ({run.runner} runner, {run.durationMs} ms)
      </p>
      <StepsTable steps={run.steps} />
      {run.screenshot ? (
        <img
          src={run.screenshot}
          alt={`Screenshot at the end of the run of ${run.monitorName}`}
          class="synthetic-shot"
          data-testid="synthetic-screenshot"
          style={{ maxWidth: '100%', border: '1px solid var(--border, #ccc)' }}
        />
      ) : null}
      {run.logs.length > 0 ? (
        <details>
          <summary>Log ({run.logs.length})</summary>
          <pre class="synthetic-log">{run.logs.map(displayText).join('\n')}</pre>
        </details>
      ) : null}
    </div>
  );
}

function CreateSynthetic(props: { onCreated: () => void }) {
  const [key, setKey] = useState(() => sessionStorage.getItem(KEY_STORAGE) ?? '');
  const [prompt, setPrompt] = useState('');
  const [drafter, setDrafter] = useState('auto');
  const [json, setJson] = useState('');
  const [notes, setNotes] = useState<string[]>([]);
  const [problem, setProblem] = useState<string | undefined>();
  const [busy, setBusy] = useState<string | undefined>();
  const [created, setCreated] = useState<string | undefined>();
  const [run, setRun] = useState<Run | undefined>();

  const saveKey = (value: string) => {
    setKey(value);
    sessionStorage.setItem(KEY_STORAGE, value);
  };
  const act = async (label: string, work: () => Promise<void>) => {
    setBusy(label);
    setProblem(undefined);
    try {
      await work();
    } catch (error) {
      setProblem(error instanceof ApiError ? error.detail : String(error));
    } finally {
      setBusy(undefined);
    }
  };
  const draft = () =>
    act('Drafting…', async () => {
      const answer = await send<{ spec: unknown; source: string; notes: string[] }>(
        'POST',
        '/synthetics/draft',
        key,
        { prompt, drafter },
      );
      setJson(JSON.stringify(answer.spec, null, 2));
      setNotes(answer.notes);
      setCreated(undefined);
      setRun(undefined);
    });
  const parsed = (): unknown => {
    try {
      return JSON.parse(json);
    } catch (error) {
      throw new Error(`The spec is not valid JSON: ${(error as Error).message}`);
    }
  };
  const create = () =>
    act('Creating…', async () => {
      const answer = await send<{ id: string }>('POST', '/synthetics', key, { spec: parsed() });
      setCreated(answer.id);
      props.onCreated();
    });
  const runNow = () =>
    act('Running…', async () => {
      setRun(await send<Run>('POST', `/synthetics/${created}/run`, key));
      props.onCreated();
    });

  return (
    <Panel
      title="Create synthetic"
      subtitle="Describe a check in a sentence, review the draft, create it, run it."
      testId="create-synthetic"
    >
      <div class="stack">
        <label class="field" for="synthetic-key">
          <span>API key (INGEST_API_KEY, kept for this tab only)</span>
          <input
            id="synthetic-key"
            type="password"
            autocomplete="off"
            value={key}
            onInput={(e) => saveKey((e.currentTarget as HTMLInputElement).value)}
          />
        </label>
        <label class="field" for="synthetic-prompt">
          <span>What should the monitor do?</span>
          <textarea
            id="synthetic-prompt"
            rows={3}
            placeholder="Visit https://example.com, type shoes in the search box, press Enter, pass if Results appears"
            value={prompt}
            onInput={(e) => setPrompt((e.currentTarget as HTMLTextAreaElement).value)}
          />
        </label>
        <div class="controls">
          <label class="field" for="synthetic-drafter">
            <span>Drafter</span>
            <select
              id="synthetic-drafter"
              value={drafter}
              onChange={(e) => setDrafter((e.currentTarget as HTMLSelectElement).value)}
            >
              <option value="auto">auto</option>
              <option value="rules">rules</option>
              <option value="openai">openai</option>
            </select>
          </label>
          <button type="button" class="btn" disabled={!prompt.trim() || busy !== undefined} onClick={draft}>
            Draft
          </button>
        </div>
        {notes.length > 0 ? (
          <ul class="muted" data-testid="draft-notes">
            {notes.map((note, i) => (
              <li key={i}>{displayText(note)}</li>
            ))}
          </ul>
        ) : null}
        <label class="field" for="synthetic-spec">
          <span>Monitor spec (JSON)</span>
          <textarea
            id="synthetic-spec"
            rows={14}
            spellcheck={false}
            style={{ fontFamily: 'monospace' }}
            value={json}
            onInput={(e) => setJson((e.currentTarget as HTMLTextAreaElement).value)}
          />
        </label>
        <div class="controls">
          <button type="button" class="btn" disabled={!json.trim() || busy !== undefined} onClick={create}>
            Create
          </button>
          <button type="button" class="btn" disabled={!created || busy !== undefined} onClick={runNow}>
            Run now
          </button>
          {busy ? (
            <span role="status" aria-busy="true">
              {busy}
            </span>
          ) : null}
          {created ? <span data-testid="created-id">Created {created}</span> : null}
        </div>
        {problem ? (
          <pre class="inline-warning" role="alert" data-testid="synthetic-problem">
            {displayText(problem)}
          </pre>
        ) : null}
        {run ? <RunResult run={run} /> : null}
      </div>
    </Panel>
  );
}

function MonitorRow(props: { monitor: Monitor; tick: number }) {
  const { monitor } = props;
  const runs = useApi<{ items: Run[] }>(
    apiUrl('/synthetics/runs', { monitor: monitor.id, limit: 20 }),
    props.tick,
  );
  const items = runs.data?.items ?? [];
  const passed = items.filter((r) => r.ok).length;
  const last = items[0];
  const schedule =
    monitor.spec.schedule === 'off' ? 'manual' : `every ${monitor.spec.schedule.everySec / 60} min`;
  return (
    <details class="synthetic-monitor" data-testid="synthetic-monitor">
      <summary>
        <strong>{displayText(monitor.spec.name)}</strong> — {schedule} —{' '}
        {items.length > 0
          ? `${Math.round((passed / items.length) * 100)}% of the last ${items.length} runs passed; last ${last?.ok ? 'passed' : 'failed'} at ${dateTime(last?.ts ?? 0)}`
          : 'no runs yet'}
      </summary>
      <p class="muted">{displayText(monitor.spec.startUrl)}</p>
      {last ? <RunResult run={last} /> : null}
    </details>
  );
}

export function SyntheticsTab() {
  const { tick } = useShared();
  const [changes, setChanges] = useState(0);
  const monitors = useApi<{ items: Monitor[] }>('/synthetics', tick + changes);
  return (
    <div class="stack">
      <CreateSynthetic onCreated={() => setChanges((n) => n + 1)} />
      <Panel
        title="Monitors"
        subtitle="Pass rate and step timings of each monitor's recent runs"
        testId="synthetics-panel"
      >
        <Async
          state={monitors}
          what="monitors"
          isEmpty={(data) => data.items.length === 0}
          empty={<p class="muted">No monitors yet: create one above.</p>}
        >
          {(data) => (
            <div class="stack">
              {data.items.map((monitor) => (
                <MonitorRow key={monitor.id} monitor={monitor} tick={tick + changes} />
              ))}
            </div>
          )}
        </Async>
      </Panel>
    </div>
  );
}
