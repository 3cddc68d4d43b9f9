"""botex-fleet: LLM participants for oTree experiments, run on one machine or a fleet.

The public API keeps the names, parameters and defaults of the original botex.
It is the top layer: it uses the fleet (``botex_worker``) and the parts below
it (``botex_core``), and neither of them imports it.
"""

from importlib.metadata import PackageNotFoundError, version

from botex_core.errors import (
    BotexError,
    ConfigurationError,
    DataFormatError,
    OtreeAuthError,
    OtreeError,
    OtreeServerStartError,
    OtreeUnreachableError,
)
from botex_core.exports import (
    export_action_data,
    export_conversation_data,
    export_participant_data,
    export_response_data,
    read_actions_from_botex_db,
    read_conversations_from_botex_db,
    read_participants_from_botex_db,
    read_responses_from_botex_db,
)
from botex_core.llm.llamacpp import start_llamacpp_server, stop_llamacpp_server
from botex_core.otree import (
    export_otree_data,
    get_bot_urls,
    get_session_configs,
    init_otree_session,
    normalize_otree_data,
    otree_server_is_running,
    start_otree_server,
    stop_otree_server,
)
from botex_core.settings import load_botex_env
from botex_fleet.bots import run_bots_on_session, run_single_bot
from botex_fleet.plan import plan_study
from botex_fleet.pretest import pretest_report
from botex_fleet.replay import replay_study
from botex_fleet.report import study_report
from botex_fleet.studies import run_study
from botex_fleet.study_export import export_study

try:
    __version__ = version("botex-fleet")
except PackageNotFoundError:  # running from a source tree that was not installed
    __version__ = "0.0.0"

__all__ = [
    "BotexError",
    "ConfigurationError",
    "DataFormatError",
    "OtreeAuthError",
    "OtreeError",
    "OtreeServerStartError",
    "OtreeUnreachableError",
    "__version__",
    "export_action_data",
    "export_conversation_data",
    "export_otree_data",
    "export_participant_data",
    "export_response_data",
    "export_study",
    "get_bot_urls",
    "get_session_configs",
    "init_otree_session",
    "load_botex_env",
    "normalize_otree_data",
    "otree_server_is_running",
    "plan_study",
    "pretest_report",
    "read_actions_from_botex_db",
    "read_conversations_from_botex_db",
    "read_participants_from_botex_db",
    "read_responses_from_botex_db",
    "replay_study",
    "run_bots_on_session",
    "run_single_bot",
    "run_study",
    "start_llamacpp_server",
    "start_otree_server",
    "study_report",
    "stop_llamacpp_server",
    "stop_otree_server",
]
