// Background (Chromium's service worker, Firefox's event page): keeps the user's on/off choice
// across browser restarts, keeps the badge honest, and in Firefox routes each request.

import { onProxyConnectionFailed, onProxyTakenOver, routeRequestsInFirefox } from "./platform.js";
import { canSetProxy, restoreChoice, showBadge } from "./proxy_switch.js";
import { loadSettings } from "./settings.js";

routeRequestsInFirefox();

// Chrome drops an extension's proxy setting when the extension is reloaded or updated, so both
// start-up and install put the user's choice back.
chrome.runtime.onStartup.addListener(() => restoreChoice());
chrome.runtime.onInstalled.addListener(() => restoreChoice());

// Another extension or a policy may take the proxy settings over while we are on.
onProxyTakenOver(async (levelOfControl) => {
  const { enabled } = await loadSettings();
  if (!enabled) return;
  await showBadge(canSetProxy(levelOfControl) ? "on" : "problem");
});

// The proxy is gone (not started, or stopped): every page fails, so the badge says so at once.
// Other proxy errors (an unreachable web site) are the site's problem, not ours.
onProxyConnectionFailed(async () => {
  const { enabled } = await loadSettings();
  if (enabled) await showBadge("problem");
});
