/**
 * Text that comes from data (endpoint, model and region labels, error messages,
 * attributes, incident titles, problem details) as the dashboard shows it.
 *
 * Bidirectional formatting controls (embeddings and overrides U+202A–U+202E,
 * isolates U+2066–U+2069, the marks U+200E, U+200F and U+061C) are shown as
 * visible `[U+202E]` tokens, so that a label cannot reorder what it shows or
 * what is shown around it ("Trojan Source", CVE-2021-42574). Only the display
 * changes: filters, links and queries keep the value as stored. The CSV export
 * neutralises the same set with the same tokens (shared/text.ts).
 *
 * Everything reaches the DOM as text (JSX children, attributes, textContent);
 * the dashboard never renders data as HTML.
 */

const BIDI_CONTROLS = /[\u061C\u200E\u200F\u202A-\u202E\u2066-\u2069]/g;

/** The value with every bidirectional control replaced by its visible code point, e.g. `[U+202E]`. */
export function displayText(value: string): string {
  return value.replace(
    BIDI_CONTROLS,
    (control) => `[U+${(control.codePointAt(0) ?? 0).toString(16).toUpperCase().padStart(4, '0')}]`,
  );
}
