"""Walkthrough content: schema (pydantic), loader, and ``python -m app.content check``."""

from app.content.loader import ContentError, ContentErrors, check_all, load_index, load_walkthrough, walkthrough_path
from app.content.schema import Block, Exercise, Index, Paper, Section, Walkthrough

__all__ = [
    "Block", "ContentError", "ContentErrors", "Exercise", "Index", "Paper", "Section", "Walkthrough",
    "check_all", "load_index", "load_walkthrough", "walkthrough_path",
]
