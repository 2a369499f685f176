"""Pages of the assurance context, split by use case: the certification flow that members,
auditors and the secretariat walk through, and the public register."""

from fastapi import APIRouter

from stewardship.assurance.views import flow, public

router = APIRouter(include_in_schema=False)
router.include_router(flow.router)
router.include_router(public.router)
