"""Base classes for the API's input and output models."""

from __future__ import annotations

from typing import Generic, TypeVar

from pydantic import BaseModel, ConfigDict

T = TypeVar("T")


class InputModel(BaseModel):
    """Every request body: unknown fields are refused, strings trimmed and bounded."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True, str_max_length=10_000)


class OutputModel(BaseModel):
    model_config = ConfigDict(from_attributes=True)


class PageOut(OutputModel, Generic[T]):
    items: list[T]
    total: int
    page: int
    per_page: int
    pages: int
