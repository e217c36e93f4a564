// Firefox preferences for a test browser that sends nothing but the test's own traffic: no update,
// telemetry, captive-portal or safe-browsing requests. Shared by the paint and the extension drivers.
export const QUIET_PREFS = {
  "app.update.enabled": false,
  "network.captive-portal-service.enabled": false,
  "network.connectivity-service.enabled": false,
  "datareporting.policy.dataSubmissionEnabled": false,
  "toolkit.telemetry.enabled": false,
  "browser.safebrowsing.malware.enabled": false,
  "browser.safebrowsing.phishing.enabled": false,
};
