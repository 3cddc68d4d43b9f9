// Does one action of an interactive page, as read_page.js marked it: types the value into the
// action's input (as a person's typing would: input and change events), then presses its button.
// Returns false when the control is gone or disabled (the page changed since it was read).
const [id, value, marker] = arguments;
const button = document.querySelector(`[data-botex-action="${CSS.escape(id)}"]`);
if (!button || button.disabled) return false;
const input = document.querySelector(`[data-botex-input="${CSS.escape(id)}"]`);
if (input && value !== null && value !== undefined) {
  const setValue = Object.getOwnPropertyDescriptor(Object.getPrototypeOf(input), 'value').set;
  setValue.call(input, String(value));
  input.dispatchEvent(new Event('input', {bubbles: true}));
  input.dispatchEvent(new Event('change', {bubbles: true}));
}
// A script may submit the page in answer: the marker tells the new document from this one.
window.__botexMarker = marker;
button.click();
return true;
