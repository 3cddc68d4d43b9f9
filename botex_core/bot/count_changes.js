// Runs before every page of a bot's tab: counts the changes a participant could see (new text,
// elements shown, hidden, enabled or disabled), so that a bot watching a live page asks one
// number instead of reading the whole page. A timer's ticking and the debug panel do not count.
(() => {
  window.__botexChanges = 0;
  const counts = (node) => {
    const element = node && (node.nodeType === 1 ? node : node.parentElement);
    return !(element && element.closest && element.closest('.otree-timer, .debug-info'));
  };
  const start = () => {
    new MutationObserver((mutations) => {
      if (mutations.some((mutation) => counts(mutation.target))) window.__botexChanges += 1;
    }).observe(document.documentElement, {subtree: true, childList: true, characterData: true, attributes: true,
                                          attributeFilter: ['disabled', 'style', 'class', 'hidden', 'value']});
  };
  if (document.documentElement) start(); else document.addEventListener('DOMContentLoaded', start);
})();
