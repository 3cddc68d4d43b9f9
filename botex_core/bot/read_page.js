// Returns everything a bot needs from the current oTree page in one call,
// or null while its HTML is still being parsed (images and styles do not matter).
if (document.readyState === 'loading') return null;
const form = document.querySelector('#form') || document.body;
const labelFor = (id) => {
  const label = id ? document.querySelector(`label[for="${CSS.escape(id)}"]`) : null;
  return label ? label.innerText.trim() : '';
};
const fieldLabel = (element) => {
  const field = element.closest('._formfield');
  const main = field ? field.querySelector('label.col-form-label') : null;
  if (main) return main.innerText.trim();
  return labelFor(element.id) || element.name;
};
const number = (text) => (text === null || text === '' ? null : Number(text));
const questions = [];
const seen = new Set();
for (const element of form.querySelectorAll('input[name], select[name], textarea[name]')) {
  const type = (element.getAttribute('type') || '').toLowerCase();
  if (type === 'hidden' || type === 'submit' || seen.has(element.name)) continue;
  seen.add(element.name);
  const question = {
    id: element.name, label: fieldLabel(element), choices: [],
    min: number(element.getAttribute('min')), max: number(element.getAttribute('max')),
    max_length: number(element.getAttribute('maxlength')),
    required: element.hasAttribute('required'),
  };
  if (element.tagName === 'SELECT') {
    question.widget = 'select';
    for (const option of element.options) {
      if (option.value !== '') question.choices.push({value: option.value, label: option.text.trim()});
    }
  } else if (element.tagName === 'TEXTAREA') {
    question.widget = 'textarea';
  } else if (type === 'radio') {
    question.widget = 'radio';
    for (const radio of form.querySelectorAll(`input[type=radio][name="${CSS.escape(element.name)}"]`)) {
      question.choices.push({value: radio.value, label: labelFor(radio.id) || radio.value});
    }
  } else if (type === 'checkbox') {
    question.widget = 'checkbox';
    question.label = labelFor(element.id) || question.label;
  } else if (type === 'number') {
    question.widget = 'integer';
  } else if (element.getAttribute('inputmode') === 'decimal') {
    question.widget = 'float';
  } else {
    question.widget = 'text';
  }
  questions.push(question);
}
const buttons = {};
for (const button of form.querySelectorAll('button[name]')) {
  if (!buttons[button.name]) {
    buttons[button.name] = {
      id: button.name, widget: 'button', label: '', choices: [], required: true,
      min: null, max: null, max_length: null,
    };
    questions.push(buttons[button.name]);
  }
  buttons[button.name].choices.push({value: button.value, label: button.innerText.trim() || button.value});
}
// oTree's Next button, else any other control that submits the form (named buttons are choices).
function wayOn() {
  const realForm = document.querySelector('#form');
  if (!realForm) return null;
  return realForm.querySelector('.otree-btn-next') || realForm.querySelector(
    'button:not([name]):not([type=button]):not([type=reset]):not([type=menu]), input[type=submit], input[type=image]');
}
const body = document.querySelector('.otree-body') || document.body;
// The devserver's debug panel is not part of the experiment; a timer's ticking is not news (its
// seconds left are read apart).
const debugPanels = [...document.querySelectorAll('.debug-info, .otree-timer')];
debugPanels.forEach((panel) => { panel.dataset.botexDisplay = panel.style.display; panel.style.display = 'none'; });
const text = body.innerText.trim();
debugPanels.forEach((panel) => { panel.style.display = panel.dataset.botexDisplay; });
const title = document.querySelector('#_otree-title, .otree-title');
const errors = [];
for (const element of document.querySelectorAll('.form-control-errors, .otree-form-errors')) {
  const message = element.innerText.trim();
  if (!message) continue;
  const field = element.closest('._formfield');
  const input = field ? field.querySelector('[name]') : null;
  errors.push(input ? `${input.name}: ${message}` : message);
}
// An interactive page: live (liveSend) or with oTree's chat. Its actions are the controls a participant
// uses while it is open; each is marked with data-botex-action (its input with data-botex-input) for act.js.
const live = document.querySelector('#otree-live') !== null;
const chatBox = document.querySelector('.otree-chat');
const shown = (el) => el.getClientRects().length > 0 && getComputedStyle(el).visibility !== 'hidden';
const actions = [];
if (live || chatBox) {
  document.querySelectorAll('[data-botex-action]').forEach((el) => el.removeAttribute('data-botex-action'));
  document.querySelectorAll('[data-botex-input]').forEach((el) => el.removeAttribute('data-botex-input'));
  const realForm = document.querySelector('#form');
  let count = 0;
  const mark = (element) => { const id = `a${count++}`; element.dataset.botexAction = id; return id; };
  const typable = (el) => !el.name && !el.disabled && shown(el) && !(chatBox && chatBox.contains(el));
  const inputFor = (button) => {
    let scope = button.parentElement;
    for (let depth = 0; scope && scope !== document.body && depth < 3; depth += 1, scope = scope.parentElement) {
      const inputs = [...scope.querySelectorAll('input[type=number], input[type=text], input:not([type]), textarea')].filter(typable);
      if (inputs.length) return inputs[0];
    }
    return null;
  };
  const inputLabel = (input) => labelFor(input.id) || input.getAttribute('placeholder') || '';
  if (chatBox) {
    const input = chatBox.querySelector('.otree-chat__input');
    const send = chatBox.querySelector('.otree-chat__btn-send');
    if (input && send && shown(send) && !send.disabled) {
      input.dataset.botexInput = mark(send);
      actions.push({id: send.dataset.botexAction, kind: 'chat', label: 'write a message in the chat'});
    }
  }
  for (const button of document.querySelectorAll('button, input[type=button]')) {
    if (button.disabled || !shown(button) || (chatBox && chatBox.contains(button)) || button.closest('.debug-info')) continue;
    const type = (button.getAttribute('type') || (button.tagName === 'BUTTON' ? 'submit' : 'button')).toLowerCase();
    if (realForm && realForm.contains(button) && type === 'submit') continue;  // a choice, or the way on
    const label = (button.innerText || button.value || '').trim();
    const input = inputFor(button);
    const id = mark(button);
    if (input) {
      input.dataset.botexInput = id;
      actions.push({id, kind: 'enter', label, input_label: inputLabel(input), min: number(input.getAttribute('min')),
                    max: number(input.getAttribute('max')), numeric: input.getAttribute('type') === 'number'});
    } else {
      actions.push({id, kind: 'press', label});
    }
  }
}
const timer = document.querySelector('.otree-timer__time-left');
const secondsLeft = (timer && shown(timer) && timer.innerText.trim())
  ? timer.innerText.trim().split(':').reduce((total, part) => total * 60 + Number(part), 0) : null;
return {
  url: window.location.href,
  title: title ? title.innerText.trim() : document.title,
  text: text,
  questions: questions,
  has_next_button: wayOn() !== null,
  is_wait_page: document.querySelector('.otree-wait-page__body') !== null,
  errors: errors,
  live: live,
  chat: chatBox !== null,
  actions: actions,
  seconds_left: Number.isFinite(secondsLeft) ? secondsLeft : null,
  revision: window.__botexChanges || 0,
};
