/**
 * The API key the UI sends: kept in localStorage, sent as `Authorization: Bearer KEY` on
 * requests and as the `token` query parameter on WebSockets (browsers cannot set headers there).
 * A 401 answer raises `raceway:unauthorized`, on which the app asks the user for a key.
 */
const KEY = "raceway.apiKey";

export function apiKey(): string | null {
  return localStorage.getItem(KEY);
}

export function setApiKey(key: string | null): void {
  if (key) localStorage.setItem(KEY, key);
  else localStorage.removeItem(KEY);
}

export const UNAUTHORIZED_EVENT = "raceway:unauthorized";

export function announceUnauthorized(): void {
  window.dispatchEvent(new Event(UNAUTHORIZED_EVENT));
}
