from os import environ

SESSION_CONFIGS = [
    dict(
        name="widgets_pair",
        display_name="Two players: every form widget, button choices and wait pages",
        app_sequence=["widgets_pair"],
        num_demo_participants=2,
    ),
    dict(
        name="guess_two_thirds",
        display_name="Guess two thirds of the average (3 rounds, groups of 3)",
        app_sequence=["guess_two_thirds"],
        num_demo_participants=3,
    ),
    dict(
        name="contribution_pair",
        display_name="Two players: contributions to a joint project (3 rounds; numbers and a drop-down only)",
        app_sequence=["contribution_pair"],
        num_demo_participants=2,
    ),
    dict(
        name="widgets_then_guess",
        display_name="Both apps, one after the other",
        app_sequence=["widgets_pair", "guess_two_thirds"],
        num_demo_participants=6,
    ),
    dict(
        name="experimenter_paced",
        display_name="One player: a Start button, results the experimenter moves on from the admin, a last page",
        app_sequence=["experimenter_paced"],
        num_demo_participants=1,
    ),
    dict(
        name="race_game",
        display_name="Two players: a race to a total in turns, played with live buttons (liveSend)",
        app_sequence=["race_game"],
        num_demo_participants=2,
        race_target=15,
    ),
    dict(
        name="double_auction",
        display_name="A double auction on a live page: buyers bid, sellers ask, a timed market",
        app_sequence=["double_auction"],
        num_demo_participants=4,
        market_seconds=60,
    ),
    dict(
        name="chat_claim",
        display_name="Two players: a chat, then each claims part of 100 points",
        app_sequence=["chat_claim"],
        num_demo_participants=2,
    ),
    dict(
        name="pretest_trouble",
        display_name="One player: rules that contradict themselves, a field rejected once, a dead end",
        app_sequence=["pretest_trouble"],
        num_demo_participants=1,
    ),
    dict(
        name="live_price",
        display_name="One player: a page made by JavaScript (a live price and a field filled in by a script)",
        app_sequence=["live_price"],
        num_demo_participants=1,
    ),
]

SESSION_CONFIG_DEFAULTS = dict(
    real_world_currency_per_point=0.01, participation_fee=5.00, doc=""
)

PARTICIPANT_FIELDS = []
SESSION_FIELDS = []

LANGUAGE_CODE = "en"
REAL_WORLD_CURRENCY_CODE = "USD"
USE_POINTS = True

ADMIN_USERNAME = "admin"
ADMIN_PASSWORD = environ.get("OTREE_ADMIN_PASSWORD")

DEMO_PAGE_INTRO_HTML = "Example experiments of botex-fleet."

SECRET_KEY = environ.get("OTREE_SECRET_KEY", "botex-fleet-example-not-secret")
