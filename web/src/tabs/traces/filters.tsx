/** The trace filters: text fields applied on Enter or blur, selects applied at once, and the page size. */
import type { JSX } from 'preact';
import { useEffect, useState } from 'preact/hooks';
import type { Params, Store } from '../../state';
import type { ErrorType } from '../../types';

const LIMITS = ['50', '100', '200', '500'];

/** The page size the URL asks for, when it is one of LIMITS; else 100. */
export const pageLimit = (params: Params): string =>
  LIMITS.includes(params.limit ?? '') ? (params.limit as string) : '100';

function FilterField(props: { label: string; for: string; children: JSX.Element; hint?: string }) {
  return (
    <label class="field" for={props.for}>
      <span>{props.label}</span>
      {props.children}
      {props.hint ? <span class="hint">{props.hint}</span> : null}
    </label>
  );
}

/** A text filter applied on Enter or blur (not on every key, which would fire a request each). */
function TextFilter(props: {
  value: string;
  placeholder: string;
  onCommit: (v: string) => void;
  name: string;
  id: string;
}) {
  const [draft, setDraft] = useState(props.value);
  useEffect(() => setDraft(props.value), [props.value]);
  return (
    <input
      type="text"
      name={props.name}
      id={props.id}
      value={draft}
      placeholder={props.placeholder}
      autocomplete="off"
      spellcheck={false}
      onInput={(e) => setDraft((e.currentTarget as HTMLInputElement).value)}
      onKeyDown={(e) => {
        if (e.key === 'Enter') props.onCommit(draft.trim());
      }}
      onBlur={() => {
        if (draft.trim() !== props.value) props.onCommit(draft.trim());
      }}
    />
  );
}

/** The filters of the traces query, each kept in the URL; changing one closes the open call. */
export function TraceFilters(
  props: Store & { limit: string; errorTypes?: readonly ErrorType[] | undefined; endpoints: string[] },
) {
  const { params, set, limit, endpoints } = props;
  // The list comes from /config; until it has loaded the select offers only "any".
  const errorTypes: readonly ErrorType[] = props.errorTypes ?? [];
  const choose = (name: string, value: string) => set({ [name]: value, trace: undefined });
  /** A text filter on the query parameter `name`. */
  const text = (name: string, label: string, placeholder: string) => (
    <FilterField label={label} for={`tf-${name}`}>
      <TextFilter
        name={name}
        id={`tf-${name}`}
        value={params[name] ?? ''}
        placeholder={placeholder}
        onCommit={(v) => choose(name, v)}
      />
    </FilterField>
  );
  /** A choice of `options` ([value, label]) or any, on the query parameter `name`. */
  const select = (name: string, label: string, options: readonly (readonly [string, string])[]) => (
    <FilterField label={label} for={`tf-${name}`}>
      <select
        name={name}
        id={`tf-${name}`}
        value={params[name] ?? ''}
        onChange={(e) => choose(name, (e.currentTarget as HTMLSelectElement).value)}
      >
        <option value="">Any</option>
        {options.map(([value, text]) => (
          <option key={value} value={value}>
            {text}
          </option>
        ))}
      </select>
    </FilterField>
  );
  return (
    <form class="filters" onSubmit={(e) => e.preventDefault()} aria-label="Trace filters">
      {text('endpoint', 'Endpoint', endpoints.slice(0, 3).join(', ') || 'any')}
      {text('model', 'Model', 'any')}
      {text('region', 'Region', 'any')}
      {select('ok', 'Result', [
        ['true', 'Succeeded'],
        ['false', 'Failed'],
      ])}
      {select(
        'errorType',
        'Error type',
        errorTypes.map((t) => [t, t] as const),
      )}
      {text('status', 'HTTP status', 'e.g. 429,500')}
      <FilterField label="Page size" for="tf-limit">
        <select
          name="limit"
          id="tf-limit"
          value={limit}
          onChange={(e) => {
            const v = (e.currentTarget as HTMLSelectElement).value;
            set({ limit: v === '100' ? undefined : v });
          }}
        >
          {LIMITS.map((l) => (
            <option key={l} value={l}>
              {l}
            </option>
          ))}
        </select>
      </FilterField>
    </form>
  );
}
