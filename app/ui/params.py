"""Widget parameters <-> Streamlit session state <-> URL query parameters.

Each widget instance on a page has a key (e.g. ``circuit``); its fields live in the
URL as ``circuit.layer=1&circuit.head=3``. On the first run the URL overrides the
walkthrough's YAML args; a value that fails validation is dropped with a visible
notice and the YAML default is used. Every later change is validated by the same
pydantic model and written back, so a copied URL reproduces the exact view.
"""

from __future__ import annotations

from typing import TypeVar

import streamlit as st
from pydantic import ValidationError

from app.widgets import WidgetParams

P = TypeVar("P", bound=WidgetParams)


def state_key(key: str, field: str) -> str:
    return f"{key}.{field}"


def _explain(err: ValidationError) -> str:
    parts = []
    for e in err.errors():
        field = ".".join(str(x) for x in e["loc"]) or "value"
        parts.append(f"{field}: {e['msg'].removeprefix('Value error, ')}")
    return "; ".join(parts)


def from_url(key: str, defaults: P) -> P:
    """Defaults overridden by this widget's URL params; bad ones are dropped with a notice."""
    fields = type(defaults).model_fields
    url = {f: st.query_params[state_key(key, f)] for f in fields if state_key(key, f) in st.query_params}
    unknown = [k for k in st.query_params if k.startswith(key + ".") and k.split(".", 1)[1] not in fields]
    if unknown:
        st.info(f"Ignored unknown URL parameter(s): {', '.join(sorted(unknown))}.", icon=":material/info:")
    if not url:
        return defaults
    merged = defaults.model_dump() | url
    try:
        return type(defaults).model_validate(merged)
    except ValidationError as err:
        st.warning(f"The link's settings for this view were not valid ({_explain(err)}); showing the defaults instead.", icon=":material/warning:")
        for f in url:
            del st.query_params[state_key(key, f)]
        return defaults


def seed(key: str, params: WidgetParams) -> None:
    """Put the starting values into session state before the controls are created, for each control that has none.

    Per control, not once per widget: Streamlit drops a page's widget values when the visitor leaves it, so a
    one-time flag would bring them back to each control's first option instead of the walkthrough's values.
    """
    for field, value in params.model_dump().items():
        if state_key(key, field) not in st.session_state:
            st.session_state[state_key(key, field)] = value


def commit(key: str, defaults: P, values: dict) -> P | None:
    """Validate the controls' values and write them to the URL; on error say why and return None."""
    try:
        params = type(defaults).model_validate(defaults.model_dump() | values)
    except ValidationError as err:
        st.error(_explain(err), icon=":material/block:")
        return None
    for field, value in params.model_dump().items():
        qk = state_key(key, field)
        if value == getattr(defaults, field):
            if qk in st.query_params:
                del st.query_params[qk]
        elif st.query_params.get(qk) != str(value):
            st.query_params[qk] = str(value)
    return params


def show_code(params: WidgetParams) -> None:
    """The few lines of TransformerLens that reproduce the figure."""
    with st.expander("Show code"):
        st.code(params.code(), language="python")
