from otree.api import *

doc = """
Two players each receive an endowment per round and decide how much of it to
put into a joint project. Contributions are multiplied and shared equally.
Three rounds, with the results shown after each. Only number fields and a
drop-down, so that simpler bots can play it too.
"""


class C(BaseConstants):
    NAME_IN_URL = "contribution_pair"
    PLAYERS_PER_GROUP = 2
    NUM_ROUNDS = 3
    ENDOWMENT = cu(100)
    MULTIPLIER = 1.5


class Subsession(BaseSubsession):
    pass


class Group(BaseGroup):
    total_contribution = models.CurrencyField()
    individual_share = models.CurrencyField()


class Player(BasePlayer):
    contribution = models.CurrencyField(
        min=0, max=C.ENDOWMENT, label="How many points do you put into the joint project (0 to 100)?"
    )
    expectation = models.StringField(
        choices=["Less than me", "About the same as me", "More than me"],
        label="How much do you expect your partner to put in?",
    )


def set_payoffs(group: Group):
    players = group.get_players()
    group.total_contribution = sum(p.contribution for p in players)
    group.individual_share = group.total_contribution * C.MULTIPLIER / C.PLAYERS_PER_GROUP
    for player in players:
        player.payoff = C.ENDOWMENT - player.contribution + group.individual_share


class Introduction(Page):
    @staticmethod
    def is_displayed(player: Player):
        return player.round_number == 1


class Contribute(Page):
    form_model = "player"
    form_fields = ["contribution", "expectation"]


class ResultsWaitPage(WaitPage):
    after_all_players_arrive = set_payoffs


class Results(Page):
    @staticmethod
    def vars_for_template(player: Player):
        return dict(partner=player.get_others_in_group()[0])


class Goodbye(Page):
    @staticmethod
    def is_displayed(player: Player):
        return player.round_number == C.NUM_ROUNDS


page_sequence = [Introduction, Contribute, ResultsWaitPage, Results, Goodbye]
