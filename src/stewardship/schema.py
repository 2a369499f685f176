"""Imports every context's models so that ``Base.metadata`` describes the whole schema.

Alembic's environment and the schema tests import this module; application code does not
need it.
"""

from stewardship.assurance import models as assurance_models  # noqa: F401
from stewardship.carbon import models as carbon_models  # noqa: F401
from stewardship.complaints import models as complaints_models  # noqa: F401
from stewardship.core import eventlog, integrity_runs, issuance, tlog  # noqa: F401
from stewardship.core.db import Base
from stewardship.custody import models as custody_models  # noqa: F401
from stewardship.interop import models as interop_models  # noqa: F401
from stewardship.interop import subscription_models  # noqa: F401
from stewardship.interop.pact import models as pact_models  # noqa: F401
from stewardship.registry import models as registry_models  # noqa: F401
from stewardship.standards import models as standards_models  # noqa: F401

metadata = Base.metadata
