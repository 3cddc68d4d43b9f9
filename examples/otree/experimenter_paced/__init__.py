from otree.api import *

doc = """
A session the experimenter paces: the first page starts with a plain Start
button (not oTree's Next button), and the results page has no way on at all:
the experimenter moves everyone on from oTree's admin ("Advance slowest
participants"). The last page ends the session.
"""


class C(BaseConstants):
    NAME_IN_URL = "experimenter_paced"
    PLAYERS_PER_GROUP = None
    NUM_ROUNDS = 1
    ENDOWMENT = 10


class Subsession(BaseSubsession):
    pass


class Group(BaseGroup):
    pass


class Player(BasePlayer):
    kept = models.IntegerField(label="How many of your 10 points do you keep?", min=0, max=C.ENDOWMENT)


class Welcome(Page):
    pass


class Task(Page):
    form_model = "player"
    form_fields = ["kept"]


class Results(Page):
    pass


class Goodbye(Page):
    pass


page_sequence = [Welcome, Task, Results, Goodbye]
