"""Review finding: a template builds a string of any size; the sandbox's caps miss it.

`relay/render/sandbox.py` promises that no template runs for more than a moment or makes a huge
value: it counts loop iterations and calls (MAX_STEPS, and MAX_CPU_SECONDS checked every 64
steps), caps `*` and `**`, and caps each part's *output*. Concatenation is none of these:
`{% set s = s ~ s %}` (or `s + s`) is neither a call nor a loop nor an intercepted operator, and
a value that is never printed is never measured. 27 such lines make a 1 GiB string (1.5 GB of
RSS, 3 s of CPU, far past the 0.5 s budget) and the template still renders; a few more and the
worker is killed by the OOM killer. `relay shop template` checks a template by rendering the
sample data, so one that grows only for some data (`{% if reference == "x" %}`) is stored, and
the shop's software then sends that data over SMTP; the render runs on the worker's event loop.
"""

from __future__ import annotations

import pytest

from relay.render import (
    Design,
    RenderError,
    TemplateSource,
    render_message,
    sample_data,
    sample_envelope,
)

MJML = (
    "<mjml><mj-body><mj-section><mj-column><mj-text>{{ amount }}</mj-text>"
    "</mj-column></mj-section></mj-body></mjml>"
)
DOUBLINGS = 24  # 8 characters doubled 24 times: 128 MiB, never printed


def hostile(grow: str) -> TemplateSource:
    subject = "Zahlungserinnerung {{ order }}{% set s = 'xxxxxxxx' %}" + grow * DOUBLINGS
    subject += "{{ s|length }}"  # prints a number: the output cap sees 9 characters
    return TemplateSource("payment-reminder", "de", subject, MJML, "{{ amount }}\n", "shop")


@pytest.mark.parametrize(
    "grow", ["{% set s = s ~ s %}", "{% set s = s + s %}"], ids=["tilde", "plus"]
)
def test_a_template_that_grows_a_string_without_bound_is_refused(grow: str) -> None:
    with pytest.raises(RenderError):
        render_message(
            Design(), hostile(grow), sample_data("payment-reminder", "de"), sample_envelope("de")
        )
