// Service worker: keeps the user's on/off choice across browser restarts and keeps the badge honest.

import { canSetProxy, restoreChoice, showBadge } from "./proxy_switch.js";
import { loadSettings } from "./settings.js";

// Chrome drops an extension's proxy setting when the extension is reloaded or updated, so both
// start-up and install put the user's choice back.
chrome.runtime.onStartup.addListener(() => restoreChoice());
chrome.runtime.onInstalled.addListener(() => restoreChoice());

// Another extension or a policy may take the proxy settings over while we are on.
chrome.proxy.settings.onChange.addListener(async (details) => {
  const { enabled } = await loadSettings();
  if (!enabled) return;
  await showBadge(canSetProxy(details.levelOfControl) ? "on" : "problem");
});

// The proxy is gone (not started, or stopped): every page fails, so the badge says so at once.
// Other proxy errors (an unreachable web site) are the site's problem, not ours.
chrome.proxy.onProxyError.addListener(async (details) => {
  if (details.error !== "net::ERR_PROXY_CONNECTION_FAILED") return;
  const { enabled } = await loadSettings();
  if (enabled) await showBadge("problem");
});
