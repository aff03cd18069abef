/**
 * Text the product writes out for people to read, outside the dashboard (the
 * CSV export): bidirectional formatting controls (embeddings and overrides
 * U+202A–U+202E, isolates U+2066–U+2069, the marks U+200E, U+200F and U+061C)
 * are replaced by visible `[U+202E]` tokens, so a stored label cannot reorder
 * what a spreadsheet shows ("Trojan Source", CVE-2021-42574). Stored data is
 * never changed. The dashboard shows text the same way (web/src/text.ts: the
 * dashboard imports nothing at run time from here; a test keeps the two equal).
 */

const BIDI_CONTROLS = /[\u061C\u200E\u200F\u202A-\u202E\u2066-\u2069]/g;

/** The text with every bidirectional control replaced by its visible code point, e.g. `[U+202E]`. */
export function neutralizeBidi(text: string): string {
  return text.replace(
    BIDI_CONTROLS,
    (control) => `[U+${(control.codePointAt(0) ?? 0).toString(16).toUpperCase().padStart(4, '0')}]`,
  );
}
