/** A call's full detail: every field it carries, its timing phases, rate-limit headers and attributes. */
import { useEffect, useRef } from 'preact/hooks';
import { dateTime, ms, usd } from '../../format';
import { displayText } from '../../text';
import type { TraceEvent } from '../../types';

function Field(props: { label: string; value: unknown; mono?: boolean }) {
  const { value } = props;
  if (value === undefined || value === null || value === '') return null;
  return (
    <div class="kv-row">
      <dt>{props.label}</dt>
      <dd class={props.mono ? 'mono' : undefined}>{displayText(String(value))}</dd>
    </div>
  );
}

export function Detail(props: {
  event: TraceEvent;
  onClose: () => void;
  onFilter: (endpoint: string) => void;
}) {
  const e = props.event;
  const ref = useRef<HTMLElement>(null);
  useEffect(() => {
    // Keyboard users land in the detail; wide screens show it beside the table, so no scrolling there.
    ref.current?.focus({ preventScroll: matchMedia('(min-width: 901px)').matches });
  }, [e.id]);
  const timing = (e.timing ?? {}) as Record<string, unknown>;
  const phase = (k: string) => (typeof timing[k] === 'number' ? ms(timing[k] as number) : undefined);
  const rl = e.rateLimit ?? {};
  return (
    <aside
      class="detail"
      ref={ref}
      tabIndex={-1}
      aria-label="Call detail"
      data-testid="trace-detail"
      onKeyDown={(ev) => {
        if (ev.key === 'Escape') props.onClose();
      }}
    >
      <header class="detail-head">
        <h3>
          <span class={e.ok ? 'status-ok' : 'status-fail'}>{e.ok ? 'Succeeded' : 'Failed'}</span> ·{' '}
          <span class="mono">{displayText(e.endpoint)}</span>
        </h3>
        <button
          type="button"
          class="btn btn-ghost"
          onClick={props.onClose}
          aria-label="Close the call detail"
        >
          ✕
        </button>
      </header>
      <dl class="kv">
        <Field label="Request id" value={e.requestId ?? '(none)'} mono />
        <Field label="Time" value={`${dateTime(e.ts)} (${e.ts})`} />
        <Field label="HTTP status" value={e.status ?? 'no answer'} />
        <Field label="Error type" value={e.errorType} />
        <Field label="Error" value={e.errorMessage} />
        <Field label="Latency" value={ms(e.latencyMs)} />
        <Field
          label="OpenAI processing (openai-processing-ms)"
          value={e.processingMs === undefined ? undefined : ms(e.processingMs)}
        />
        <Field label="Model" value={e.model} mono />
        <Field label="Region" value={e.region} />
        <Field label="Source" value={e.source} />
        <Field label="Upstream" value={e.upstream} />
        <Field label="Input tokens" value={e.usage?.input} />
        <Field label="Output tokens" value={e.usage?.output} />
        <Field label="Cached tokens" value={e.usage?.cached} />
        <Field label="Reasoning tokens" value={e.usage?.reasoning} />
        <Field label="Estimated cost" value={e.costUsd === undefined ? undefined : usd(e.costUsd)} />
        <Field label="Response bytes" value={e.responseBytes} />
        <Field label="DNS" value={phase('dnsMs')} />
        <Field label="Connect" value={phase('connectMs')} />
        <Field label="TLS" value={phase('tlsMs')} />
        <Field label="Time to first byte" value={phase('ttfbMs')} />
        <Field label="Transfer" value={phase('transferMs')} />
        <Field label="Time to first token" value={phase('ttftMs')} />
        <Field
          label="Connection reused"
          value={timing.reused === undefined ? undefined : timing.reused ? 'yes' : 'no'}
        />
        <Field
          label="Requests left (x-ratelimit)"
          value={
            rl.remainingRequests === undefined
              ? undefined
              : `${rl.remainingRequests} of ${rl.limitRequests ?? '?'}`
          }
        />
        <Field
          label="Tokens left (x-ratelimit)"
          value={
            rl.remainingTokens === undefined ? undefined : `${rl.remainingTokens} of ${rl.limitTokens ?? '?'}`
          }
        />
        <Field
          label="Requests reset in"
          value={rl.resetRequestsMs === undefined ? undefined : ms(rl.resetRequestsMs)}
        />
        <Field
          label="Tokens reset in"
          value={rl.resetTokensMs === undefined ? undefined : ms(rl.resetTokensMs)}
        />
        <Field label="Trace id" value={e.traceId} mono />
        <Field label="Span id" value={e.spanId} mono />
        <Field label="Event id" value={e.id} mono />
      </dl>
      {e.attributes && Object.keys(e.attributes).length > 0 ? (
        <>
          <h4>Attributes</h4>
          <dl class="kv" data-testid="trace-attributes">
            {Object.entries(e.attributes).map(([k, v]) => (
              <div key={k} class="kv-row">
                <dt class="mono">{displayText(k)}</dt>
                <dd class="mono">{displayText(String(v))}</dd>
              </div>
            ))}
          </dl>
        </>
      ) : null}
      <div class="detail-actions">
        <button type="button" class="btn btn-small" onClick={() => props.onFilter(e.endpoint)}>
          Only this endpoint
        </button>
      </div>
    </aside>
  );
}
