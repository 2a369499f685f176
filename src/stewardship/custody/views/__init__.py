"""Pages of the chain of custody, split by use case: a member's dashboard and the forms
that move its accounts, its documents with their chain, the periods and settings, the
reports and the secretariat's network view, and the public verification of a document."""

from fastapi import APIRouter

from stewardship.custody.views import (
    accounts,
    dashboard,
    documents,
    periods,
    public,
    records,
    reports,
)

router = APIRouter(include_in_schema=False)
router.include_router(dashboard.router)
router.include_router(accounts.router)
router.include_router(documents.router)
router.include_router(records.router)
router.include_router(periods.router)
router.include_router(reports.router)
router.include_router(public.router)
