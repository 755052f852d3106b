"""The app in a real browser: Debian's chromium driven by Playwright (which never downloads one).

A visitor types seed words, moves the slider, switches to top-k, generates, and reads the text as
it streams, the unknown-word notice and the chart. Screenshots go to artifacts/ (git-ignored).
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from app_server import ROOT, app_model, app_server  # noqa: F401  (fixtures)

from wordrnn import tokenize

pytestmark = [pytest.mark.browser, pytest.mark.slow]
sync_api = pytest.importorskip("playwright.sync_api")
expect = sync_api.expect

CHROMIUM = "/usr/bin/chromium"
# Headless, and quiet: without the background-networking flags chromium keeps calling home.
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
        "--disable-background-networking", "--disable-component-update", "--disable-sync"]
ARTIFACTS = ROOT / "artifacts"
TIMEOUT = 60_000  # ms; the machine is shared


@pytest.fixture(scope="module")
def page(app_server):
    if not Path(CHROMIUM).exists():
        pytest.skip(f"no chromium at {CHROMIUM}: `apt-get install chromium` (scripts/test.sh does, as root)")
    expect.set_options(timeout=TIMEOUT)
    with sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        page = browser.new_page(viewport={"width": 1280, "height": 1000})
        page.set_default_timeout(TIMEOUT)
        page.goto(app_server.url)
        yield page
        browser.close()


def screenshot(page, name: str) -> None:
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / name), full_page=True)


def generated_words(page) -> int:
    """Words and punctuation in the unlabeled part of the output (what the model wrote)."""
    return len(tokenize("\n".join(page.locator("#output .text.unlabeled").all_inner_texts()), eol=False))


def wait_until_done(page) -> None:
    """Until the text has stopped growing for 3 s (the machine is shared: a pause is possible)."""
    page.evaluate("window.same = 0; window.last = -1")
    page.wait_for_function("() => document.querySelectorAll('#output .text.unlabeled').length > 0")
    page.wait_for_function(
        """() => { const n = document.querySelector('#output').innerText.length;
                   window.same = window.last === n ? (window.same || 0) + 1 : 0; window.last = n;
                   return window.same >= 3; }""", polling=1000)


def test_page_shows_the_model_and_examples(page):
    model = page.locator("#model")
    expect(model).to_contain_text("Validation perplexity: 12.5")
    expect(model).to_contain_text(re.compile(r"Vocabulary: \d+ words"))
    expect(model).to_contain_text("Device: cpu")
    expect(page.get_by_text("And god said, let there be", exact=True)).to_be_visible()
    expect(page.locator("#k")).to_be_hidden()  # greedy first: no sampling settings


def test_a_visitor_generates_text(page):
    prompt = page.locator("#prompt textarea")
    prompt.fill("and god saaid , let there")
    expect(page.locator("#prompt-info")).to_contain_text("6 of 7 words")
    prompt.press_sequentially(" be ")
    info = page.locator("#prompt-info")
    expect(info).to_contain_text("7 of 7 words")
    expect(info).to_contain_text("saaid is not in the vocabulary")
    expect(info).to_contain_text("did you mean said")

    words = page.locator("#words input[type=number]")
    words.fill("300")
    words.press("Enter")
    page.locator("[data-testid=top-k-radio-label]").click()
    expect(page.locator("#k")).to_be_visible()
    expect(page.locator("#temperature")).to_be_visible()
    page.locator("#seed textarea, #seed input").first.fill("7")

    # Count how the text grows: streamed, it takes several different lengths on the way.
    page.evaluate("""() => {
        window.lengths = [];
        const output = document.querySelector('#output');
        new MutationObserver(() => window.lengths.push(output.innerText.length))
            .observe(output, {subtree: true, childList: true, characterData: true});
    }""")
    page.locator("#generate").click()
    expect(page.get_by_text("Not in the vocabulary").first).to_be_visible()  # the warning toast
    wait_until_done(page)
    assert 200 < generated_words(page) <= 300  # the slider's 300 tokens, less the line breaks
    assert len(set(page.evaluate("window.lengths"))) >= 3, "the text should arrive in several updates"

    output = page.locator("#output")
    expect(output.locator(".token.highlighted", has_text="saaid")).to_be_visible()  # unknown: highlighted
    expect(output).to_contain_text("And god")
    expect(page.locator("#next-words")).to_contain_text("%")
    assert page.locator("#next-words").get_by_text(re.compile(r"^\d+%$")).count() == 10
    screenshot(page, "app.png")


def test_markup_is_shown_as_text(page):
    page.evaluate("window.injected = false")
    page.locator("#prompt textarea").fill("<img src=x onerror='window.injected=true'> and god said")
    page.locator("#words input[type=number]").fill("3")
    page.locator("#words input[type=number]").press("Enter")
    page.locator("#generate").click()
    expect(page.locator("#output")).to_contain_text("onerror")
    wait_until_done(page)
    assert page.locator("img[src=x]").count() == 0
    assert page.evaluate("window.injected") is False


def test_an_empty_prompt_gets_a_clear_error(page):
    page.locator("#prompt textarea").fill("")
    page.locator("#generate").click()
    expect(page.get_by_text("The prompt is empty").first).to_be_visible()
    screenshot(page, "app-error.png")
