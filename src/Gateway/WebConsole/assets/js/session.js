// The signed-in person's token lives in this tab's sessionStorage only: it is gone when the tab closes, other tabs
// and sites cannot read it, and it is never put in a URL.

const key = 'approvalEngine.token';

export function storedToken() {
  try {
    return sessionStorage.getItem(key);
  } catch {
    return null; // Storage disabled by the browser: the person signs in again on each load.
  }
}

export function storeToken(token) {
  try {
    sessionStorage.setItem(key, token);
  } catch {
    // Storage disabled: the token stays in memory for this page only.
  }
}

export function forgetToken() {
  try {
    sessionStorage.removeItem(key);
  } catch {
    // Nothing was stored.
  }
}
