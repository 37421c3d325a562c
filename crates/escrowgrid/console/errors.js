// Collects every console error, uncaught error, failed resource, unhandled rejection and CSP
// violation in `window.__consoleErrors` (the browser tests fail when it is not empty).
const seen = [];
window.__consoleErrors = seen;
const original = console.error.bind(console);
console.error = (...args) => {
  seen.push(args.map(String).join(' '));
  original(...args);
};
window.addEventListener('error', (event) => {
  const target = event.target && event.target !== window ? ` (${event.target.src || event.target.href || event.target.tagName})` : '';
  seen.push(`error: ${event.message || 'resource failed'}${target}`);
}, true);
window.addEventListener('unhandledrejection', (event) => seen.push(`unhandled rejection: ${event.reason}`));
document.addEventListener('securitypolicyviolation', (event) => seen.push(`csp violation: ${event.violatedDirective} ${event.blockedURI}`));
