// The popup: one switch, the motion preset, the target, and a status line that says in plain words
// what is happening and, when something is wrong, what to do about it.

import {
  choosePreset, getPresets, getStatus, httpsThroughProxyWorks,
  NotTheWinkProxy, RefusedByProxy, setWinking, siteState, switchSite,
} from "./control_api.js";
import { askForProxyAccess, hasProxyAccess, IS_FIREFOX } from "./platform.js";
import { canSetProxy, proxyLevelOfControl, showBadge, switchOff, switchOn } from "./proxy_switch.js";
import { loadPresetCatalog, loadSettings, savePresetCatalog, START_COMMAND, TRUST_CA_COMMAND } from "./settings.js";

const $ = (id) => document.getElementById(id);

document.addEventListener("DOMContentLoaded", () => {
  $("power").addEventListener("change", onPowerChanged);
  $("preset").addEventListener("change", onPresetChosen);
  $("site-off").addEventListener("change", onSiteSwitched);
  $("copy-command").addEventListener("click", () => navigator.clipboard.writeText($("status-command-text").textContent));
  $("open-options").addEventListener("click", (event) => {
    event.preventDefault();
    chrome.runtime.openOptionsPage();
  });
  refresh();
});

async function onPowerChanged() {
  const power = $("power");
  const access = power.checked ? askForProxyAccess() : null; // first, while the click still counts
  power.disabled = true;
  showStatus("checking", power.checked ? "Switching on…" : "Switching off…");
  try {
    if (access && !(await access)) {
      power.checked = false;
      return showStatus("problem", "Firefox did not let the extension route websites through the proxy.", {
        hint: "Switch on again and allow access to your data for all websites: the proxy sees every page, so the extension must send every request to it.",
      });
    }
    if (power.checked) {
      await switchOn();
    } else {
      await switchOff();
    }
  } finally {
    power.disabled = false;
  }
  await refresh();
}

async function onPresetChosen() {
  const select = $("preset");
  select.disabled = true;
  try {
    const status = await choosePreset(select.value);
    showPresetDescription();
    showProxyFacts(status);
    await savePresetCatalog({ ...(await loadPresetCatalog()), current: status.preset });
  } catch (error) {
    const why = error instanceof RefusedByProxy ? error.message : "the proxy did not answer.";
    showStatus("problem", "The motion was not changed: " + why);
  } finally {
    select.disabled = false;
  }
}

// Reads the state from scratch and shows it. Every path ends in exactly one status message.
async function refresh() {
  const settings = await loadSettings();
  $("power").checked = settings.enabled;
  $("proxy-address").textContent = `${settings.host}:${settings.port}`;
  showPresets(await loadPresetCatalog(), false);

  const level = await proxyLevelOfControl();
  if (!canSetProxy(level)) {
    $("power").disabled = true;
    if (settings.enabled) await showBadge("problem");
    if (level === "not_controllable") {
      return showStatus("problem", "A policy set by this computer's administrator fixes the proxy settings.", {
        hint: "This extension cannot change them. Set the proxy another way (see the extension's README), or ask the administrator.",
      });
    }
    return showStatus("problem", "Another extension controls this browser's proxy settings, so winking cannot be switched on.", {
      hint: `Turn off the other proxy or VPN extension in ${IS_FIREFOX ? "about:addons" : "chrome://extensions"}, then open this popup again.`,
    });
  }
  $("power").disabled = false;
  if (settings.enabled && !(await hasProxyAccess())) {
    await showBadge("problem");
    return showStatus("problem", "Firefox no longer lets the extension route websites through the proxy.", {
      hint: "Pages load directly. Switch off and on again, and allow access to your data for all websites.",
    });
  }

  if (!settings.enabled) {
    await showBadge("off");
    return showStatus("off", "Off. Pictures load as they are.", {
      hint: `Switch on to send this browser's traffic through the wink proxy at ${settings.host}:${settings.port}.`,
    });
  }
  showStatus("checking", "On. Checking the proxy…");
  await checkProxy(settings);
}

async function checkProxy(settings) {
  const address = `${settings.host}:${settings.port}`;
  let status;
  try {
    status = await withRetries(getStatus);
  } catch (error) {
    await showBadge("problem");
    if (error instanceof NotTheWinkProxy) {
      return showStatus("problem", `Something answers at ${address}, but it is not the wink proxy.`, {
        hint: "Start mitmdump with the wink add-on, in the project folder:",
        command: START_COMMAND,
      });
    }
    return showStatus("problem", `The proxy at ${address} does not answer, so pages will not load.`, {
      hint: "Start it in the project folder, or switch off here:",
      command: START_COMMAND,
    });
  }
  showProxyFacts(status);
  await showSite();
  try {
    const catalog = await getPresets();
    await savePresetCatalog(catalog);
    showPresets(catalog, true);
  } catch {
    // The status answered a moment ago; an empty list is shown as it is rather than guessed.
  }

  if (!status.enabled) {
    await showBadge("problem");
    return showStatus("problem", "The proxy runs, but winking is paused in it: pictures pass unchanged.", {
      action: { label: "Resume winking", run: () => setWinking(true).then(refresh) },
    });
  }
  if (!(await httpsThroughProxyWorks())) {
    await showBadge("problem");
    return showStatus("problem", "HTTPS pages fail: this browser does not trust the proxy's certificate.", {
      hint: "Trust the proxy's CA: run this in the project folder, then restart the browser. " +
        "Or install it by hand from mitm.it.",
      command: TRUST_CA_COMMAND,
      link: { label: "Open http://mitm.it", href: "http://mitm.it/" },
    });
  }
  await showBadge("on");
  const who = status.target === "any" ? "Every face in a photo winks" : "Photos of the target person wink";
  return showStatus("ok", `On. ${who} back.`, {
    hint: "A new motion applies to the next picture that loads.",
  });
}

// The site of the tab the popup was opened over, and whether winking is off there. Shown only while
// the proxy answers: the proxy keeps the list and names the site (the page's eTLD+1, as its cache does).
async function showSite() {
  const [tab] = await chrome.tabs.query({ active: true, lastFocusedWindow: true });
  const url = tab?.url ? new URL(tab.url) : null;
  const row = $("site");
  if (!url || !["http:", "https:"].includes(url.protocol) || url.hostname === "wink.proxy") {
    row.hidden = true;
    return;
  }
  try {
    const { site, off } = await siteState(url.hostname);
    row.dataset.host = url.hostname;
    $("site-name").textContent = site;
    $("site-off").checked = off;
    $("site-note").textContent = off ? "Pictures on this site's pages pass unchanged." : "";
    row.hidden = false;
  } catch (error) {
    // Refused (say, the proxy is paired with another browser): say why. No answer: no switch.
    row.hidden = !(error instanceof RefusedByProxy);
    $("site-off").disabled = true;
    $("site-note").textContent = row.hidden ? "" : error.message;
    return;
  }
  $("site-off").disabled = false;
}

async function onSiteSwitched() {
  const box = $("site-off");
  box.disabled = true;
  try {
    const { off } = await switchSite($("site").dataset.host, box.checked);
    box.checked = off;
    $("site-note").textContent = off
      ? "Off here: reload the page to see its original pictures."
      : "On again here: reload the page to see it wink.";
  } catch (error) {
    box.checked = !box.checked;
    const why = error instanceof RefusedByProxy ? error.message : "the proxy did not answer.";
    $("site-note").textContent = "Not changed: " + why;
  } finally {
    box.disabled = false;
  }
}

// Right after switching on, Chrome may take a moment to route requests through the new proxy.
async function withRetries(request, attempts = 3) {
  for (let attempt = 1; ; attempt++) {
    try {
      return await request();
    } catch (error) {
      if (attempt >= attempts || error instanceof RefusedByProxy) throw error;
      await new Promise((resolve) => setTimeout(resolve, 400));
    }
  }
}

function showProxyFacts(status) {
  // A target given as a path shows as its last part; the full value is in the tooltip.
  $("target").textContent = status.target === "any" ? "every face" : status.target.split("/").filter(Boolean).pop();
  $("target").title = status.target;
  const counts = status.counts;
  $("counts").textContent =
    `${counts.seen} images seen · ${counts.animated} animated · ${counts.cached} from cache · ${counts.failed} failed`;
  if ($("preset").value !== status.preset && [...$("preset").options].some((o) => o.value === status.preset)) {
    $("preset").value = status.preset;
    showPresetDescription();
  }
}

function showPresets(catalog, live) {
  const select = $("preset");
  select.replaceChildren();
  for (const preset of catalog?.presets ?? []) {
    const option = new Option(preset.name, preset.name);
    option.dataset.description = preset.description;
    select.append(option);
  }
  if (catalog?.current) select.value = catalog.current;
  // The choice is made in the proxy, so it can only be changed while the proxy is reachable.
  select.disabled = !live || select.options.length === 0;
  select.title = live ? "" : "Switch on to change the motion";
  showPresetDescription();
}

function showPresetDescription() {
  const option = $("preset").selectedOptions[0];
  $("preset-description").textContent = option ? option.dataset.description : "Switch on to see the motions.";
}

// state: "off" | "checking" | "ok" | "problem"; extras are the way out, shown only when given.
function showStatus(state, text, { hint, command, link, action } = {}) {
  $("status").dataset.state = state;
  $("status-text").textContent = text;
  $("status-hint").hidden = !hint;
  $("status-hint").textContent = hint ?? "";
  $("status-command").hidden = !command;
  $("status-command-text").textContent = command ?? "";
  $("status-link").hidden = !link;
  if (link) {
    $("status-link").textContent = link.label;
    $("status-link").href = link.href;
  }
  $("status-action").hidden = !action;
  $("status-action").onclick = action ? action.run : null;
  if (action) $("status-action").textContent = action.label;
}
