// The wink add-on's control API. It lives at the reserved host wink.proxy, which only exists
// inside the proxy: these calls work only while the browser is routed through it. The add-on
// sends CORS headers to this extension's origin only (in Chromium its ID is pinned by the
// manifest's "key"; in Firefox, whose extension origins are random per install, the origin that
// paired), so no other extension can read the answers.
//
// Changes carry the proxy's per-install secret. The proxy hands it out once, to this extension
// (POST /api/pair); it is kept in chrome.storage.local and sent back as X-Wink-Secret.

const CONTROL_ORIGIN = "http://wink.proxy";
const TIMEOUT_MS = 4000;
const SECRET_KEY = "controlSecret";

// Nothing answered: the proxy is not running at the configured address (or we are not routed yet).
export class ProxyNotAnswering extends Error {}
// Something answered, but not the wink add-on (for example mitmdump started without -s proxy_addon/wink.py).
export class NotTheWinkProxy extends Error {}
// The add-on answered and refused, saying why (status: the HTTP status of the refusal).
export class RefusedByProxy extends Error {
  constructor(message, status) {
    super(message);
    this.status = status;
  }
}

export const getStatus = () => call("/api/status");
export const getPresets = () => call("/api/presets");
export const choosePreset = (name) => post("/api/preset", { preset: name });
export const setWinking = (enabled) => post("/api/enabled", { enabled });
// "Not on this site": the proxy names the site (eTLD+1) of a host and says whether it is switched off.
export const siteState = (host) => post("/api/sites", { host });
export const switchSite = (host, off) => post("/api/sites", { host, off });

async function post(path, body) {
  const send = (secret) =>
    call(path, {
      method: "POST",
      headers: { "Content-Type": "application/json", "X-Wink-Secret": secret },
      body: JSON.stringify(body),
    });
  try {
    return await send(await secret());
  } catch (error) {
    // The proxy made a new secret (its file was deleted to pair again): pair once more.
    if (!(error instanceof RefusedByProxy) || error.status !== 401) throw error;
    await chrome.storage.local.remove(SECRET_KEY);
    return send(await secret());
  }
}

// The secret this extension got when it paired with the proxy; pairs now if it has none.
async function secret() {
  const stored = (await chrome.storage.local.get(SECRET_KEY))[SECRET_KEY];
  if (stored) return stored;
  const { secret: given } = await call("/api/pair", {
    method: "POST",
    headers: { "Content-Type": "application/json" },
    body: "{}",
  });
  await chrome.storage.local.set({ [SECRET_KEY]: given });
  return given;
}

async function call(path, init = {}) {
  let response;
  try {
    response = await fetch(CONTROL_ORIGIN + path, { cache: "no-store", signal: AbortSignal.timeout(TIMEOUT_MS), ...init });
  } catch (error) {
    // A CORS-less answer (some other proxy's error page) fails exactly like no answer at all;
    // an opaque probe tells the two apart.
    if (await answers(CONTROL_ORIGIN + "/")) throw new NotTheWinkProxy(String(error));
    throw new ProxyNotAnswering(String(error));
  }
  let body;
  try {
    body = await response.json();
  } catch {
    throw new NotTheWinkProxy(`HTTP ${response.status} without JSON`);
  }
  if (!response.ok) {
    if (body && typeof body.error === "string") throw new RefusedByProxy(body.error, response.status);
    throw new NotTheWinkProxy(`HTTP ${response.status}`);
  }
  return body;
}

// Does anything answer at url? A no-cors fetch resolves with an opaque response whatever the HTTP
// answer is, and rejects only when no answer came (or TLS failed).
async function answers(url) {
  try {
    await fetch(url, { mode: "no-cors", cache: "no-store", signal: AbortSignal.timeout(TIMEOUT_MS) });
    return true;
  } catch {
    return false;
  }
}

// Does HTTPS through the proxy work, i.e. does this browser trust the proxy's CA?
// The proxy intercepts TLS for https://wink.proxy with a certificate signed by its CA, like for any
// web site, so the fetch fails when the browser refuses that certificate. Only meaningful after
// getStatus() succeeded.
export const httpsThroughProxyWorks = () => answers("https://wink.proxy/api/status");
