"""One session of bots, start to end, through the public API that botex and botex_fleet share.

Run by each system's own interpreter, so that both do exactly the same calls:

    python session_bots.py MODULE CONFIG BOTS BOTEX_DB OTREE_URL MODEL API_BASE

MODULE is ``botex`` (the original) or ``botex_fleet`` (botex-fleet, embedded).
Prints the session id first.
"""

import importlib
import sys

module, config, bots, botex_db, otree_url, model, api_base = sys.argv[1:8]
api = importlib.import_module(module)
session = api.init_otree_session(config, int(bots), botex_db=botex_db, otree_server_url=otree_url)
print(session["session_id"], flush=True)
api.run_bots_on_session(session["session_id"], botex_db=botex_db, model=model, api_key="sk-bench", api_base=api_base)
