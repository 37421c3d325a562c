// Talking to the API: the key (sessionStorage only), requests by contract operation name,
// exact decimals both ways, and errors as values the views can show next to their fields.
import contract from './contract.js';

const KEY = 'escrowgrid.apiKey';
const EXACT = new Set(['amount', 'minAmount', 'maxAmount']);

/** The signed-in key lives in this tab's sessionStorage only: never a URL, cookie or log. */
export const session = {
  get key() { return sessionStorage.getItem(KEY); },
  signIn(key) { sessionStorage.setItem(KEY, key); },
  signOut() { sessionStorage.clear(); },
};

/** An error answer of the API (`{"error", "details"?}`) or a network failure. */
export class ApiError extends Error {
  constructor(status, body) {
    super(body && body.error ? body.error : `request failed (${status || 'network'})`);
    this.status = status;
    this.body = body || {};
  }
  /** `[{field, message}]` when the API listed bad fields. */
  get fields() {
    const details = this.body.details;
    return Array.isArray(details) ? details.filter((d) => d && typeof d.field === 'string') : [];
  }
  /** The whole message in words: error, string details, status. */
  get text() {
    const details = this.body.details;
    const extra = typeof details === 'string' ? `: ${details}` : '';
    return `${this.message}${extra}${this.status ? ` (HTTP ${this.status})` : ''}`;
  }
}

/** A decimal that must reach the API as an exact JSON number (never through a float). */
export class Decimal {
  constructor(text) { this.text = text; }
  toJSON() { return `\u0000decimal:${this.text}`; }
}

/** Exact decimal text: digits, optional fraction of at most 8 digits. */
export const DECIMAL_PATTERN = '^[0-9]{1,16}(\\.[0-9]{1,8})?$';
export const isDecimal = (text) => new RegExp(DECIMAL_PATTERN).test(text);

function encode(body) {
  return JSON.stringify(body).replace(/"\\u0000decimal:([0-9.]+)"/g, '$1');
}

/** Parses a body keeping amounts as their exact source text (strings). */
export function decode(text) {
  return JSON.parse(text, (key, value, context) =>
    typeof value === 'number' && EXACT.has(key) && context && context.source ? context.source : value);
}

const listeners = new Set();
/** Calls `fn(error)` for every failed request not handled quietly (the status banner). */
export function onError(fn) { listeners.add(fn); }

function operation(name) {
  const op = contract.operations[name] || contract.optional[name];
  if (!op) throw new Error(`unknown operation ${name}`);
  return op;
}

/** The URL of an operation with its path parameters and query filled in. */
export function url(name, params = {}, query = {}) {
  const [, template] = operation(name);
  const path = template.replace(/\{(\w+)\}/g, (_, key) => encodeURIComponent(params[key]));
  const search = new URLSearchParams();
  for (const [key, value] of Object.entries(query)) {
    if (value !== undefined && value !== null && value !== '') search.set(key, value);
  }
  const qs = search.toString();
  return qs ? `${path}?${qs}` : path;
}

/**
 * Calls operation `name` of the contract with the signed-in key.
 * Options: `params` (path), `query`, `body`, `quiet` (no banner: the caller shows the error).
 * Resolves to the decoded body; rejects with an `ApiError`.
 */
export async function call(name, { params, query, body, quiet = false, key = session.key } = {}) {
  const [method] = operation(name);
  const headers = { 'X-API-KEY': key || '' };
  if (body !== undefined) headers['Content-Type'] = 'application/json';
  if (method === 'POST' && crypto.randomUUID) headers['Idempotency-Key'] = crypto.randomUUID();
  let response;
  try {
    response = await fetch(url(name, params, query), {
      method, headers, body: body === undefined ? undefined : encode(body), cache: 'no-store',
    });
  } catch (cause) {
    const error = new ApiError(0, { error: `cannot reach the API: ${cause.message}` });
    if (!quiet) listeners.forEach((fn) => fn(error));
    throw error;
  }
  const text = await response.text();
  let parsed = null;
  try { parsed = text ? decode(text) : null; } catch { parsed = { error: text.slice(0, 200) }; }
  if (!response.ok) {
    const error = new ApiError(response.status, parsed);
    if (!quiet) listeners.forEach((fn) => fn(error));
    throw error;
  }
  return parsed;
}
