from otree.api import *

doc = """
An experiment with the troubles a pretest should find: rules that contradict
themselves, a field oTree rejects on the first try whatever its value (with a
message of its own), and round results with no way on (a dead end unless the
experimenter moves everyone on) before the last page.
"""


class C(BaseConstants):
    NAME_IN_URL = "pretest_trouble"
    PLAYERS_PER_GROUP = None
    NUM_ROUNDS = 1
    ENDOWMENT = 10


class Subsession(BaseSubsession):
    pass


class Group(BaseGroup):
    pass


class Player(BasePlayer):
    offer = models.IntegerField(label="How many of your 10 points do you offer?", min=0, max=C.ENDOWMENT)


class Welcome(Page):
    pass


class Rules(Page):
    pass


class Offer(Page):
    form_model = "player"
    form_fields = ["offer"]

    @staticmethod
    def error_message(player: Player, values):
        tries = player.participant.vars.get("offer_tries", 0) + 1
        player.participant.vars["offer_tries"] = tries
        if tries == 1:
            return "Offers are checked twice: please confirm your offer by submitting it again."


class Results(Page):
    pass


class Goodbye(Page):
    pass


page_sequence = [Welcome, Rules, Offer, Results, Goodbye]
