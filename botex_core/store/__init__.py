"""The botex store: SQLAlchemy models, engines and the queries on them."""

from botex_core.store.engine import database_url, dispose_engines, get_engine, session_scope, store_answers
from botex_core.store.models import (
    Answer,
    BotStatus,
    Conversation,
    LiveAction,
    LLMExchange,
    Participant,
    Rejection,
    utcnow,
)

__all__ = [
    "Answer",
    "BotStatus",
    "Conversation",
    "LiveAction",
    "LLMExchange",
    "Participant",
    "Rejection",
    "database_url",
    "dispose_engines",
    "get_engine",
    "session_scope",
    "store_answers",
    "utcnow",
]
