"""Reading oTree's HTML without a browser: the page model, the form a browser would post, and pages that need JavaScript."""

from __future__ import annotations

from botex_core.bot.html_page import form_submission, needs_javascript, parse_page, read_html
from botex_core.bot.page import Widget

PAGE = """<!DOCTYPE html><html><head><title>tab</title><script>var x = 1;</script></head><body>
<div class="otree-body container">
  <h2 class="otree-title" id="_otree-title">About you</h2>
  <form id="form" method="post">
    <div class="otree-content">
      <p>Please <b>answer</b>.<span style="display: none">secret</span><span hidden>also secret</span></p>
      <div class="_formfield"><label class="col-form-label" for="id_age">How old are you?</label>
        <input type="number" name="age" id="id_age" min="18" max="99" required>
        <div class="form-control-errors">Enter a number from 18 to 99.</div></div>
      <div class="_formfield"><label class="col-form-label" for="id_colour">Colour?</label>
        <select name="colour" id="id_colour"><option value="">--------</option><option value="R">Red</option>
        <option value="G" selected>Green</option></select></div>
      <div class="_formfield"><label class="col-form-label">Risk?</label>
        <input type="radio" name="risk" id="id_risk_0" value="1"><label for="id_risk_0">Avoid</label>
        <input type="radio" name="risk" id="id_risk_1" value="2" checked><label for="id_risk_1">Seek</label></div>
      <div class="_formfield"><input type="checkbox" name="consent" id="id_consent">
        <label for="id_consent">I agree.</label></div>
      <textarea name="why" maxlength="50">old</textarea>
      <input type="text" name="share" inputmode="decimal" value="0.5" disabled>
      <button name="choice" value="A">Take A</button><button name="choice" value="B">Take B</button>
      <button class="otree-btn-next btn">Next</button>
    </div>
  </form>
  <div class="otree-form-errors">Please fix the errors.</div>
</div>
<div class="debug-info">Debug info</div>
</body></html>"""


def test_the_page_model_has_what_a_participant_sees() -> None:
    page = parse_page("http://otree/p/abc/app/Questions/2", read_html(PAGE))
    assert page.title == "About you" and page.name == "Questions"
    assert "Please answer." in page.text and "secret" not in page.text and "Debug" not in page.text
    assert "-------- Red Green" in page.text  # a browser shows the options of a select
    by_id = {question.id: question for question in page.questions}
    assert by_id["age"].widget == Widget.INTEGER and (by_id["age"].min, by_id["age"].max) == (18, 99)
    assert by_id["age"].label == "How old are you?" and by_id["age"].required
    assert [choice.label for choice in by_id["colour"].choices] == ["Red", "Green"]
    assert [(c.value, c.label) for c in by_id["risk"].choices] == [("1", "Avoid"), ("2", "Seek")]
    assert by_id["consent"].widget == Widget.CHECKBOX and by_id["consent"].label == "I agree."
    assert by_id["why"].widget == Widget.TEXTAREA and by_id["why"].max_length == 50
    assert by_id["share"].widget == Widget.FLOAT
    assert [(c.value, c.label) for c in by_id["choice"].choices] == [("A", "Take A"), ("B", "Take B")]
    assert page.has_next_button and not page.is_wait_page
    assert page.errors == ["age: Enter a number from 18 to 99.", "Please fix the errors."]


def test_the_form_is_posted_as_a_browser_posts_it() -> None:
    answers = {"age": 30, "colour": "R", "risk": "1", "consent": True, "why": "fun", "share": "0.9"}
    action, fields = form_submission(read_html(PAGE), answers)  # type: ignore[misc]
    assert action is None  # to the page's own address
    assert fields == [("age", "30"), ("colour", "R"), ("risk", "1"), ("consent", "on"), ("why", "fun")]


def test_unanswered_fields_keep_what_the_page_holds_and_a_button_answer_presses_it() -> None:
    _, fields = form_submission(read_html(PAGE), {"choice": "B", "consent": False})  # type: ignore[misc]
    assert fields == [("age", ""), ("colour", "G"), ("risk", "2"), ("why", "old"), ("choice", "B")]


def test_a_page_without_a_way_to_submit_it_has_no_submission() -> None:
    assert form_submission(read_html(PAGE.replace('<button class="otree-btn-next btn">Next</button>', "")), {}) is None
    assert form_submission(read_html("<html><body><p>The end.</p></body></html>"), {}) is None


def test_pages_that_need_javascript_say_why() -> None:
    assert needs_javascript(read_html(PAGE)) is None
    live = PAGE.replace("</body>", '<script src="/static/otree/js/live.js" id="otree-live"></script></body>')
    assert needs_javascript(read_html(live)).startswith("a live page")
    hidden = PAGE.replace('<textarea', '<input type="hidden" name="price_seen"><textarea')
    assert needs_javascript(read_html(hidden)) == "a field filled in by a script (price_seen)"
    scripted = PAGE.replace("</form>", "</form><script>forminputs.age.value = 40;</script>")
    assert needs_javascript(read_html(scripted)) == "a script that changes the form"


def test_any_control_that_submits_the_form_is_a_way_on() -> None:
    without_next = PAGE.replace('<button class="otree-btn-next btn">Next</button>', "")
    start = without_next.replace("</form>", '<button class="btn btn-primary">Start</button></form>')
    page = parse_page("http://otree/p/abc/app/Intro/1", read_html(start))
    assert page.has_next_button and not page.has_no_way_on
    assert form_submission(read_html(start), {"age": 20}) is not None
    submit_input = without_next.replace("</form>", '<input type="submit" name="go" value="Go on"></form>')
    _, fields = form_submission(read_html(submit_input), {})  # type: ignore[misc]
    assert fields[-1] == ("go", "Go on")
    script_button = without_next.replace("</form>", '<button type="button" onclick="f()">Show</button></form>')
    assert not parse_page("http://otree/p/abc/app/Intro/1", read_html(script_button)).has_next_button
    outside = without_next.replace("</form>", "</form><button>Elsewhere</button>")
    assert not parse_page("http://otree/p/abc/app/Intro/1", read_html(outside)).has_next_button


def test_a_multiple_select_sends_every_chosen_option() -> None:
    multiple = PAGE.replace('<textarea', '<select name="toppings" multiple><option value="a" selected>A</option>'
                                          '<option value="b" selected>B</option><option value="c">C</option></select><textarea')
    _, kept = form_submission(read_html(multiple), {"choice": "A"})  # type: ignore[misc]
    assert [value for name, value in kept if name == "toppings"] == ["a", "b"]
    _, chosen = form_submission(read_html(multiple), {"choice": "A", "toppings": ["c", "a"]})  # type: ignore[misc]
    assert [value for name, value in chosen if name == "toppings"] == ["a", "c"]


def test_a_choice_the_page_does_not_offer_is_posted_as_given_for_otree_to_reject() -> None:
    _, fields = form_submission(read_html(PAGE), {"colour": "Purple", "risk": "9"})  # type: ignore[misc]
    assert ("colour", "Purple") in fields and ("risk", "9") in fields and ("colour", "G") not in fields
