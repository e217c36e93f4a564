// Options page: where the proxy listens and which addresses go direct.

import { canSetProxy, switchOn } from "./proxy_switch.js";
import {
  DEFAULTS, loadSettings, parseBypassList, problemWithAddress, saveSettings, START_COMMAND,
} from "./settings.js";

const $ = (id) => document.getElementById(id);

document.addEventListener("DOMContentLoaded", async () => {
  $("start-command").textContent = START_COMMAND;
  show(await loadSettings());
  $("settings").addEventListener("submit", onSave);
  $("defaults").addEventListener("click", () => {
    show(DEFAULTS);
    say("Defaults filled in; press Save to use them.");
  });
});

function show(settings) {
  $("host").value = settings.host;
  $("port").value = settings.port;
  $("bypass").value = settings.bypassList.join("\n");
}

async function onSave(event) {
  event.preventDefault();
  const host = $("host").value.trim();
  const port = Number($("port").value);
  const problem = problemWithAddress(host, port);
  if (problem) return say(problem, "error");

  await saveSettings({ host, port, bypassList: parseBypassList($("bypass").value) });
  const { enabled } = await loadSettings();
  if (!enabled) return say(`Saved. Switch on in the popup to use ${host}:${port}.`, "saved");
  // Already on: the browser switches to the new address now, not at the next restart.
  if (!canSetProxy(await switchOn())) {
    return say("Saved, but another extension or a policy controls the proxy settings, so they are not in use.", "error");
  }
  say(`Saved. This browser now goes through ${host}:${port}.`, "saved");
}

function say(text, kind = "") {
  $("message").textContent = text;
  $("message").className = kind;
}
