"""Bot API endpoints of the generations app (bot-api.md: Generations, Projects, Logs).

Shape validation only; the rules live in services.
"""

from ninja import Router

from generations.api.catalog import router as catalog_router
from generations.api.jobs import router as jobs_router
from generations.api.logs import router as logs_router
from generations.api.projects import router as projects_router

router = Router()
router.add_router("", catalog_router)
router.add_router("", jobs_router)
router.add_router("", projects_router)
router.add_router("", logs_router)
