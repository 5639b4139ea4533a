"""The walkthrough schema: YAML -> pydantic models, extra keys forbidden.

A walkthrough is a paper plus sections; a section holds blocks, and a block is exactly
one of: a Markdown text (with $LaTeX$), a live widget, or an exercise.
``python -m app.content schema`` prints the JSON Schema for editors.
"""

from __future__ import annotations

import re
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

_SLUG = re.compile(r"^[a-z0-9]+(-[a-z0-9]+)*$")


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Paper(Strict):
    title: str = Field(description="The paper's title as published.")
    authors: str = Field(description="Authors, e.g. 'Elhage, Nanda, Olsson et al.'.")
    year: int = Field(ge=1990, le=2100, description="Year of publication.")
    url: str = Field(pattern=r"^https://", description="Link to the paper (https).")


class Check(Strict):
    fn: str = Field(description="Name of an auto-check in app/exercises.py; it computes the answer on the live model.")
    args: dict[str, Any] = Field(default_factory=dict, description="Keyword arguments for the check, e.g. {model: attn-only-1l}.")


class Exercise(Strict):
    question: str = Field(description="The question (Markdown).")
    hints: list[str] = Field(default_factory=list, description="Hints, revealed one at a time.")
    solution: str = Field(description="The worked solution (Markdown), revealed on request.")
    check: Check | None = Field(default=None, description="Optional auto-check against the live model.")
    answer_label: str = Field(default="Your answer", description="Label of the answer box.")


class Block(Strict):
    text: str | None = Field(default=None, description="Markdown with $LaTeX$; shown in the left column.")
    widget: str | None = Field(default=None, description="A registered widget name (app/widgets.py); shown on the right.")
    key: str | None = Field(default=None, description="Unique id of this widget on the page (URL prefix); defaults to the widget name.")
    args: dict[str, Any] = Field(default_factory=dict, description="The widget's parameters (validated by its model).")
    caption: str | None = Field(default=None, description="Caption under the widget (Markdown).")
    exercise: Exercise | None = Field(default=None, description="An exercise, shown full width under the section.")

    @model_validator(mode="after")
    def _exactly_one(self) -> "Block":
        kinds = [k for k in ("text", "widget", "exercise") if getattr(self, k) is not None]
        if len(kinds) != 1:
            raise ValueError(f"a block needs exactly one of text / widget / exercise, got {kinds or 'none'}")
        if self.widget is None and (self.args or self.caption or self.key):
            raise ValueError("args / caption / key belong to widget blocks only")
        return self

    @property
    def widget_key(self) -> str:
        return self.key or self.widget or ""


class Section(Strict):
    id: str = Field(description="Slug used as the anchor and in the table of contents.")
    title: str = Field(description="Section heading.")
    blocks: list[Block] = Field(min_length=1, description="Text, widget and exercise blocks.")

    @field_validator("id")
    @classmethod
    def _slug(cls, v: str) -> str:
        if not _SLUG.match(v):
            raise ValueError("use lowercase letters, digits and single hyphens, e.g. 'qk-and-ov'")
        return v


class Walkthrough(Strict):
    id: str = Field(description="Matches the file name content/<id>.yaml.")
    title: str = Field(description="Title shown on the page and the catalogue card.")
    paper: Paper = Field(description="The paper this walkthrough explains.")
    models: list[str] = Field(min_length=1, description="Zoo models the page uses.")
    summary: str = Field(description="One-line summary for the catalogue card.")
    sections: list[Section] = Field(min_length=1, description="The walkthrough, in order.")

    @model_validator(mode="after")
    def _unique(self) -> "Walkthrough":
        seen: set[str] = set()
        for s in self.sections:
            if s.id in seen:
                raise ValueError(f"section id {s.id!r} is used twice")
            seen.add(s.id)
        keys = [b.widget_key for s in self.sections for b in s.blocks if b.widget]
        dup = {k for k in keys if keys.count(k) > 1}
        if dup:
            raise ValueError(f"widget keys {sorted(dup)} repeat on this page: give each block a distinct 'key'")
        return self


class PlannedPaper(Strict):
    id: str = Field(description="Walkthrough id; content/<id>.yaml once it exists.")
    title: str | None = Field(default=None, description="Card title while no walkthrough file exists.")
    paper: Paper | None = Field(default=None, description="The paper, while no walkthrough file exists.")
    summary: str | None = Field(default=None, description="One-line summary while no walkthrough file exists.")
    models: list[str] = Field(default_factory=list, description="Models it will use (informational).")


class Index(Strict):
    papers: list[PlannedPaper] = Field(description="Catalogue order. An entry with a walkthrough file is live.")
