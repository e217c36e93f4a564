// Switching the browser's proxy on and off, and the toolbar badge that shows which it is.
// Used by the popup, the options page and the background alike; how each browser is routed is in
// platform.js.

import { clearProxy, proxyLevelOfControl, setProxy } from "./platform.js";
import { loadSettings, saveSettings } from "./settings.js";

export { proxyLevelOfControl };

// chrome.proxy.settings levels of control that let this extension set the proxy.
const OURS_TO_SET = ["controllable_by_this_extension", "controlled_by_this_extension"];

export function canSetProxy(levelOfControl) {
  return OURS_TO_SET.includes(levelOfControl);
}

// Routes the browser through the proxy. Returns the level of control found, so the caller can
// explain a refusal (another extension or a policy holds the proxy settings).
export async function switchOn() {
  const level = await proxyLevelOfControl();
  await saveSettings({ enabled: true });
  if (!canSetProxy(level)) {
    await showBadge("problem");
    return level;
  }
  await setProxy(await loadSettings());
  await showBadge("on");
  return "controlled_by_this_extension";
}

// Clears only what this extension set: someone else's proxy settings are left alone.
export async function switchOff() {
  const level = await proxyLevelOfControl();
  await saveSettings({ enabled: false });
  if (level === "controlled_by_this_extension") await clearProxy();
  await showBadge("off");
}

// On browser start-up and after an install or reload: put back what the user chose.
export async function restoreChoice() {
  const settings = await loadSettings();
  if (settings.enabled) {
    await switchOn();
  } else {
    await switchOff();
  }
}

const BADGES = {
  on: { text: "on", color: "#1a7f37", title: "wink: on" },
  problem: { text: "!", color: "#c2410c", title: "wink: on, but something is wrong (click for details)" },
  off: { text: "", color: "#6b7280", title: "wink: off" },
};

export async function showBadge(state) {
  const badge = BADGES[state];
  await chrome.action.setBadgeBackgroundColor({ color: badge.color });
  await chrome.action.setBadgeTextColor({ color: "#ffffff" });
  await chrome.action.setBadgeText({ text: badge.text });
  await chrome.action.setTitle({ title: badge.title });
}
