"""Workshop mode: a teacher runs a class through the walkthroughs (classes, join codes, attempts, follow-me).

``store.Workshop`` is the one data layer (SQLAlchemy 2; SQLite by default, PostgreSQL when
``INTERP_READER_DATABASE_URL`` is set; Alembic migrations run on start-up). ``codes`` holds join
codes, tokens and the rate limit; ``report`` turns attempts into the teacher's dashboard.
No Streamlit here: the pages are ``app/ui/workshop.py``.
"""

from app.workshop.codes import BadInput, Forbidden, NotFound, RateLimit, RateLimited, WorkshopError
from app.workshop.report import Attempt, Dashboard, ExerciseStats
from app.workshop.store import Follow, Joined, NewClass, StudentView, TeacherView, Workshop, open_store

__all__ = ["Attempt", "BadInput", "Dashboard", "ExerciseStats", "Follow", "Forbidden", "Joined", "NewClass",
           "NotFound", "RateLimit", "RateLimited", "StudentView", "TeacherView", "Workshop", "WorkshopError",
           "open_store"]
