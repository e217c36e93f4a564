// The one file where Chromium and Firefox differ. Everything else uses the chrome.* names, which
// Firefox provides too (with promises in Manifest V3), and these helpers.
//
// Chromium routes the browser with chrome.proxy.settings (scope regular_only: incognito windows go
// direct). Firefox routes it with proxy.onRequest, answered here request by request from the stored
// settings: private windows go direct there too, no private-browsing permission is needed (which
// Firefox's proxy.settings demands), and the routing ends with the extension. onRequest only sees
// requests to hosts the extension may access, so Firefox asks the user for that once, on switching on.

import { loadSettings } from "./settings.js";

export const IS_FIREFOX = chrome.runtime.getURL("").startsWith("moz-extension:");

// What proxy.onRequest needs to see every request (optional_host_permissions in the manifest).
const EVERY_SITE = { origins: ["<all_urls>"] };

// Must be called synchronously inside the user's click (Firefox shows its permission prompt only then).
export function askForProxyAccess() {
  return IS_FIREFOX ? chrome.permissions.request(EVERY_SITE) : Promise.resolve(true);
}

export function hasProxyAccess() {
  return IS_FIREFOX ? chrome.permissions.contains(EVERY_SITE) : Promise.resolve(true);
}

// Chromium's levelOfControl; in Firefox onRequest listeners of several extensions may coexist, so
// the setting is always ours to use.
export async function proxyLevelOfControl() {
  if (IS_FIREFOX) {
    const { enabled } = await loadSettings();
    return enabled ? "controlled_by_this_extension" : "controllable_by_this_extension";
  }
  const details = await chrome.proxy.settings.get({ incognito: false });
  return details.levelOfControl;
}

// Chromium: set the browser's proxy. Firefox: nothing to set; the onRequest listener reads the
// settings just stored.
export async function setProxy(settings) {
  if (IS_FIREFOX) return;
  await chrome.proxy.settings.set({
    value: {
      mode: "fixed_servers",
      rules: {
        singleProxy: { scheme: "http", host: settings.host, port: Number(settings.port) },
        bypassList: settings.bypassList,
      },
    },
    scope: "regular_only",
  });
}

export async function clearProxy() {
  if (IS_FIREFOX) return;
  await chrome.proxy.settings.clear({ scope: "regular_only" });
}

// Chromium only: another extension or a policy took the setting; the proxy refused the connection.
export function onProxyTakenOver(listener) {
  if (!IS_FIREFOX) chrome.proxy.settings.onChange.addListener((details) => listener(details.levelOfControl));
}

export function onProxyConnectionFailed(listener) {
  if (IS_FIREFOX) return; // Firefox reports no proxy connection errors to extensions; the popup checks.
  chrome.proxy.onProxyError.addListener((details) => {
    if (details.error === "net::ERR_PROXY_CONNECTION_FAILED") listener();
  });
}

// Firefox: answer each request with the proxy, from the background page's top level (so Firefox
// wakes the background for it). The settings are read once and again after every change.
export function routeRequestsInFirefox() {
  if (!IS_FIREFOX) return;
  let settings = null;
  chrome.storage.onChanged.addListener(() => {
    settings = null;
  });
  chrome.proxy.onRequest.addListener(
    async (details) => {
      settings ??= loadSettings();
      const { enabled, host, port, bypassList } = await settings;
      if (!enabled || details.incognito || goesDirect(new URL(details.url).hostname, bypassList)) {
        return { type: "direct" };
      }
      return { type: "http", host: host.replace(/^\[(.*)\]$/, "$1"), port: Number(port) };
    },
    { urls: ["<all_urls>"] },
  );
}

const LOOPBACK = /^(localhost|.*\.localhost|127(\.\d+){3}|\[?::1\]?)$/;

// The bypass list in the forms Chromium reads: "<local>" is any name without a dot, loopback goes
// direct unless "<-loopback>" is listed, "*.example.com" or ".example.com" a domain and its hosts.
export function goesDirect(hostname, bypassList) {
  const host = hostname.toLowerCase();
  if (LOOPBACK.test(host) && !bypassList.includes("<-loopback>")) return true;
  return bypassList.some((entry) => {
    const rule = entry.toLowerCase();
    if (rule === "<local>") return !host.includes(".") && !host.includes(":");
    if (rule.startsWith("*.") || rule.startsWith(".")) {
      const domain = rule.replace(/^\*?\./, "");
      return host === domain || host.endsWith("." + domain);
    }
    return host === rule;
  });
}
