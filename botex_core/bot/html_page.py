"""oTree's server-rendered pages read without a browser: the page model and the form a browser would send.

Reads the same things as ``read_page.js`` does in Chromium, from the HTML
oTree sends: the title, the text a participant sees (without scripts, hidden
elements and the devserver's debug panel), every question of the form,
buttons, oTree's errors and whether it is a wait page.
"""

from __future__ import annotations

import copy
from typing import Any

from lxml import html
from lxml.html import HtmlElement

from botex_core.bot.page import Page

# Elements whose content a participant never sees.
_UNSEEN_TAGS = {"script", "style", "noscript", "template", "head", "title", "meta", "link"}
# Elements after which a browser starts a new line: their text never runs into a neighbour's.
_BLOCK_TAGS = {
    "address", "article", "aside", "blockquote", "br", "dd", "details", "div", "dl", "dt", "fieldset",
    "figcaption", "figure", "footer", "form", "h1", "h2", "h3", "h4", "h5", "h6", "header", "hr", "li",
    "main", "nav", "ol", "p", "pre", "section", "summary", "table", "tbody", "td", "tfoot", "th", "thead",
    "tr", "ul", "option", "label", "button", "select", "textarea",
}
_CHECKED_TRUE = {"true", "True", "1", "on"}
# Controls that submit the form they are in when pressed, other than the buttons of button choices.
_SUBMIT_CONTROLS = (".//button[not(@name)][not(@type) or translate(@type, 'SUBMIT', 'submit') = 'submit']"
                    " | .//input[translate(@type, 'SUBMITAGE', 'submitage') = 'submit'"
                    " or translate(@type, 'SUBMITAGE', 'submitage') = 'image']")
# What a script in the page's content does when it makes or fills form fields.
_FORM_SCRIPT_SIGNS = ("forminputs", "formInputs", ".value", "createElement", "innerHTML", "insertAdjacentHTML",
                      "appendChild", "liveSend")


def read_html(document: str) -> HtmlElement:
    """The parsed HTML ``document``, for the functions below (parsed once per page)."""
    return html.document_fromstring(document)


def parse_page(url: str, root: HtmlElement) -> Page:
    """The page model of the oTree page at ``url`` with the parsed HTML ``root``."""
    form = _first_or_body(root, "#form")
    title = _first(root, "#_otree-title, .otree-title")
    return Page(
        url=url,
        title=_text(title) if title is not None else _normalized(root.findtext(".//title") or ""),
        text=_text(_first_or_body(root, ".otree-body")),
        questions=[*_questions(root, form), *_buttons(form)],
        has_next_button=_way_on(root) is not None,
        is_wait_page=_first(root, ".otree-wait-page__body") is not None,
        errors=_errors(root),
    )


def needs_javascript(root: HtmlElement) -> str | None:
    """Why the page cannot be played without a browser, or None when its HTML is all it needs:
    a live page, a chat, a form field filled in by a script, or a script that changes the page's form."""
    if _first(root, "#otree-live") is not None:
        return "a live page (it talks to the server with liveSend)"
    if _first(root, ".otree-chat") is not None:
        return "a chat (its messages come and go over a live connection)"
    form = _first(root, "#form")
    if form is None:
        return None
    filled = [field.get("name") for field in form.xpath(".//input[@type='hidden'][@name]")]
    if filled:
        return f"a field filled in by a script ({', '.join(filled)})"
    for script in _first_or_body(root, ".otree-body").xpath(".//script[not(@src)]"):
        if any(sign in (script.text or "") for sign in _FORM_SCRIPT_SIGNS):
            return "a script that changes the form"
    return None


def form_submission(root: HtmlElement, answers: dict[str, Any]) -> tuple[str | None, list[tuple[str, str]]] | None:
    """The form's action and the fields a browser would post after filling in ``answers`` and
    pressing the answer's button (else the page's way on); None when nothing submits the page.

    The form is filled in through lxml's form support and its fields listed as a browser sends
    them (see :func:`_sent`); a value that no option or radio has is posted as given, so that
    oTree's own error comes back.
    """
    form = _first(root, "#form")
    if form is None:
        return None
    pressed = _pressed_button(form, answers)
    if pressed is None:
        pressed = _way_on(root)
    if pressed is None:
        return None
    filled = copy.deepcopy(form)
    not_offered = {name: value for name, value in answers.items() if not _fill(filled, name, value)}
    fields = [(name, value) for element in filled.inputs for name, value in _sent(element) if name not in not_offered]
    fields += [(name, str(value)) for name, value in not_offered.items()]
    if pressed.get("name"):
        fields.append((pressed.get("name"), pressed.get("value", "")))
    return form.get("action"), fields


def _sent(element: HtmlElement) -> list[tuple[str, str]]:
    """What a browser sends of a form field: like lxml's ``form_values``, and a text field without a
    value attribute sent empty (lxml leaves it out), a plain ``<input type=button>`` not at all."""
    name = element.get("name")
    if not name or element.get("disabled") is not None:
        return []
    if element.tag == "select":
        chosen = element.value
        return [(name, value) for value in chosen] if element.multiple else [(name, chosen)] if chosen is not None else []
    if element.tag == "textarea":
        return [(name, element.value or "")]
    if element.checkable:
        return [(name, element.get("value", "on"))] if element.checked else []
    if (element.get("type") or "").lower() in ("submit", "button", "reset", "image", "file"):
        return []
    return [(name, element.value or "")]


def _fill(form: HtmlElement, name: str, answer: Any) -> bool:
    """Set the field ``name`` of ``form`` to ``answer`` as a person would; False when the field
    offers no such choice."""
    if name not in form.inputs.keys():
        return True  # a button's answer: pressed, not filled in
    field = form.inputs[name]
    values = [str(value) for value in answer] if isinstance(answer, (list, tuple, set)) else [str(answer)]
    try:
        if isinstance(field, html.CheckboxGroup) or getattr(field, "multiple", False):
            chosen = field.value
            chosen.clear()
            for value in values:
                chosen.add(value)
        elif getattr(field, "checkable", False):
            field.checked = values[0] in _CHECKED_TRUE
        else:
            field.value = values[0]
    except (ValueError, KeyError):
        return False
    return True


def _option_value(option: HtmlElement) -> str:
    value = option.get("value")
    return value if value is not None else _normalized(option.text_content())


def _way_on(root: HtmlElement) -> HtmlElement | None:
    """What moves the page on: oTree's Next button, else any other control that submits the form
    (a plain ``<button>``, ``<input type=submit>``); buttons with a name are choices, not a way on."""
    form = _first(root, "#form")
    if form is None:
        return None
    controls = form.xpath(_SUBMIT_CONTROLS)
    next_buttons = [control for control in controls if "otree-btn-next" in (control.get("class") or "").split()]
    found = next_buttons or controls
    return found[0] if found else None


def _pressed_button(form: HtmlElement, answers: dict[str, Any]) -> HtmlElement | None:
    for button in form.xpath(".//button[@name]"):
        name = button.get("name")
        if name in answers and str(answers[name]) == button.get("value", ""):
            return button
    return None


def _questions(root: HtmlElement, form: HtmlElement) -> list[dict[str, Any]]:
    questions: list[dict[str, Any]] = []
    seen: set[str] = set()
    for element in form.xpath(".//input[@name] | .//select[@name] | .//textarea[@name]"):
        kind = (element.get("type") or "").lower()
        name = element.get("name")
        if kind in ("hidden", "submit") or name in seen:
            continue
        seen.add(name)
        question: dict[str, Any] = {
            "id": name, "label": _field_label(root, element), "choices": [],
            "min": _number(element.get("min")), "max": _number(element.get("max")),
            "max_length": _number(element.get("maxlength")), "required": element.get("required") is not None,
        }
        question.update(_widget(root, form, element, kind, question["label"]))
        questions.append(question)
    return questions


def _widget(root: HtmlElement, form: HtmlElement, element: HtmlElement, kind: str, label: str) -> dict[str, Any]:
    """The widget of a form field, with its choices (and, for a checkbox, its own label)."""
    if element.tag == "select":
        choices = [{"value": _option_value(option), "label": _normalized(option.text_content())}
                   for option in element.xpath(".//option") if _option_value(option) != ""]
        return {"widget": "select", "choices": choices}
    if element.tag == "textarea":
        return {"widget": "textarea"}
    if kind == "radio":
        radios = form.xpath(".//input[@type='radio'][@name=$name]", name=element.get("name"))
        return {"widget": "radio", "choices": [
            {"value": radio.get("value", "on"), "label": _label_for(root, radio.get("id")) or radio.get("value", "on")}
            for radio in radios]}
    if kind == "checkbox":
        return {"widget": "checkbox", "label": _label_for(root, element.get("id")) or label}
    if kind == "number":
        return {"widget": "integer"}
    if element.get("inputmode") == "decimal":
        return {"widget": "float"}
    return {"widget": "text"}


def _buttons(form: HtmlElement) -> list[dict[str, Any]]:
    buttons: dict[str, dict[str, Any]] = {}
    for button in form.xpath(".//button[@name]"):
        question = buttons.setdefault(button.get("name"), {
            "id": button.get("name"), "widget": "button", "label": "", "choices": [], "required": True,
            "min": None, "max": None, "max_length": None,
        })
        question["choices"].append({"value": button.get("value", ""), "label": _text(button) or button.get("value", "")})
    return list(buttons.values())


def _field_label(root: HtmlElement, element: HtmlElement) -> str:
    field = _closest(element, "_formfield")
    main = field.cssselect("label.col-form-label") if field is not None else []
    if main:
        return _text(main[0])
    return _label_for(root, element.get("id")) or element.get("name")


def _label_for(root: HtmlElement, element_id: str | None) -> str:
    if not element_id:
        return ""
    labels = root.xpath("//label[@for=$id]", id=element_id)
    return _text(labels[0]) if labels else ""


def _errors(root: HtmlElement) -> list[str]:
    errors = []
    for element in root.cssselect(".form-control-errors, .otree-form-errors"):
        message = _text(element)
        if not message:
            continue
        field = _closest(element, "_formfield")
        named = field.xpath(".//*[@name]") if field is not None else []
        errors.append(f"{named[0].get('name')}: {message}" if named else message)
    return errors


def _text(element: HtmlElement) -> str:
    """The text of ``element`` as a participant reads it, with whitespace collapsed."""
    parts: list[str] = []
    _collect_text(element, parts)
    return _normalized("".join(parts))


def _collect_text(element: HtmlElement, parts: list[str]) -> None:
    if not isinstance(element.tag, str) or _hidden(element):
        parts.append(element.tail or "")
        return
    block = element.tag in _BLOCK_TAGS
    if block:
        parts.append(" ")
    if element.tag not in ("textarea", "input"):
        parts.append(element.text or "")
        for child in element:
            _collect_text(child, parts)
    if block:
        parts.append(" ")
    parts.append(element.tail or "")


def _hidden(element: HtmlElement) -> bool:
    if element.tag in _UNSEEN_TAGS or element.get("hidden") is not None:
        return True
    style = (element.get("style") or "").replace(" ", "").lower()
    classes = (element.get("class") or "").split()
    return "display:none" in style or "debug-info" in classes or "d-none" in classes or "otree-timer" in classes


def _closest(element: HtmlElement, class_name: str) -> HtmlElement | None:
    node: HtmlElement | None = element
    while node is not None:
        if class_name in (node.get("class") or "").split():
            return node
        node = node.getparent()
    return None


def _first(root: HtmlElement, selector: str) -> HtmlElement | None:
    found = root.cssselect(selector)
    return found[0] if found else None


def _first_or_body(root: HtmlElement, selector: str) -> HtmlElement:
    found = _first(root, selector)
    return root.body if found is None else found


def _number(text: str | None) -> float | None:
    if text is None or text == "":
        return None
    return float(text)


def _normalized(text: str) -> str:
    return " ".join(text.split())
