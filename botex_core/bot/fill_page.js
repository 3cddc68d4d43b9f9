// Fills the form with the answers (form values, keyed by field name) and submits
// it: with the button of a button question, else with oTree's next button, else
// with any other control that submits the form (named buttons are choices).
const [answers, marker] = arguments;
const form = document.querySelector('#form') || document.body;
window.__botexMarker = marker;
// oTree's server-side messages are what the bot needs, not the browser's.
if (form.tagName === 'FORM') form.noValidate = true;
let submitButton = null;
for (const [name, value] of Object.entries(answers)) {
  const button = form.querySelector(`button[name="${CSS.escape(name)}"][value="${CSS.escape(String(value))}"]`);
  if (button) { submitButton = button; continue; }
  const element = form.querySelector(`[name="${CSS.escape(name)}"]`);
  if (!element) continue;
  const type = (element.getAttribute('type') || '').toLowerCase();
  if (type === 'radio') {
    const radio = form.querySelector(`input[type=radio][name="${CSS.escape(name)}"][value="${CSS.escape(String(value))}"]`);
    if (radio) radio.checked = true;
  } else if (type === 'checkbox') {
    element.checked = value === true || value === 'true' || value === 'True';
  } else {
    element.value = String(value);
  }
}
const realForm = document.querySelector('#form');
submitButton = submitButton || (realForm && (realForm.querySelector('.otree-btn-next') || realForm.querySelector(
  'button:not([name]):not([type=button]):not([type=reset]):not([type=menu]), input[type=submit], input[type=image]')));
if (submitButton) submitButton.click();
return submitButton !== null;
