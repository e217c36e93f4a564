// The user's choices, kept in chrome.storage.local so they survive a browser restart.

export const DEFAULTS = Object.freeze({
  enabled: false,
  host: "127.0.0.1",
  port: 8080,
  // "<local>" keeps plain hostnames (intranet, printers) off the proxy.
  bypassList: ["<local>"],
});

// The documented commands (top README): start the proxy with the project's CA; trust that CA.
export const START_COMMAND = "uv run mitmdump -s proxy_addon/wink.py --listen-host 127.0.0.1 --set confdir=certs/confdir";
export const TRUST_CA_COMMAND = "uv run python -m certs install";

export async function loadSettings() {
  const stored = await chrome.storage.local.get(Object.keys(DEFAULTS));
  return { ...DEFAULTS, ...stored };
}

export async function saveSettings(changes) {
  await chrome.storage.local.set(changes);
}

// The last preset list the proxy sent, so the popup can show it while switched off.
export async function loadPresetCatalog() {
  const { presetCatalog } = await chrome.storage.local.get("presetCatalog");
  return presetCatalog ?? null;
}

export async function savePresetCatalog(catalog) {
  await chrome.storage.local.set({ presetCatalog: catalog });
}

// One entry per line, or separated by commas, as people paste them.
export function parseBypassList(text) {
  return text.split(/[\s,;]+/).map((entry) => entry.trim()).filter(Boolean);
}

// Returns a sentence saying what is wrong, or null when host and port are usable.
export function problemWithAddress(host, port) {
  const hostname = /^[A-Za-z0-9]([A-Za-z0-9.-]*[A-Za-z0-9])?$/;
  const bracketedIPv6 = /^\[[0-9A-Fa-f:.]+\]$/;
  if (!hostname.test(host) && !bracketedIPv6.test(host)) {
    return "The host is a name or an address such as 127.0.0.1 (no http://, no port, no spaces).";
  }
  if (!Number.isInteger(port) || port < 1 || port > 65535) {
    return "The port is a whole number from 1 to 65535 (mitmdump uses 8080 unless told otherwise).";
  }
  return null;
}
